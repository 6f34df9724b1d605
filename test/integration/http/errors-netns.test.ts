// The http listener against backend addresses that cannot answer: a black hole (SYNs silently dropped →
// 504 after timeouts.connectMs) and an unreachable route (→ 502 at once), run in
// errors-netns.scenarios.ts inside a private network namespace.
import { runInPrivateNetns, UNANSWERED_PREFIXES_SETUP } from '../../helpers/private-netns.js';

runInPrivateNetns({
  setup: UNANSWERED_PREFIXES_SETUP,
  scenarios: new URL('./errors-netns.scenarios.ts', import.meta.url),
  env: { EDGE46_HTTP_NETNS: '1' },
  name: 'http listener inside a private network namespace',
  userNamespace: true,
});
