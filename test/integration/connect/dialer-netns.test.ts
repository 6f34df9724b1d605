// Dialer cases that need more than [::1]: several local addresses, an address that never answers and an
// unreachable route, run in netns-dial.scenarios.ts inside a private network namespace.
import { runInPrivateNetns, UNANSWERED_PREFIXES_SETUP } from '../../helpers/private-netns.js';

runInPrivateNetns({
  setup: `${UNANSWERED_PREFIXES_SETUP}
ip -6 addr add 2001:db8:1::1/128 dev lo nodad
ip -6 addr add 2001:db8:1::2/128 dev lo nodad`,
  scenarios: new URL('./netns-dial.scenarios.ts', import.meta.url),
  env: { EDGE46_DIAL_NETNS: '1' },
  name: 'dialer inside a private network namespace',
  userNamespace: true,
});
