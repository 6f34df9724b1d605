// IP_FREEBIND sockets from the native addon, checked where it matters: NAT46 source addresses in a
// prefix made local with `ip -6 route add local 64:ff9b:1::/96 dev lo`, in freebind-netns.scenarios.ts
// inside a private network namespace.
import { loadNative, nativeLoadError } from '../../../src/pipe/native.js';
import { runInPrivateNetns } from '../../helpers/private-netns.js';

runInPrivateNetns({
  setup: `ip link set lo up
ip -6 route add local 64:ff9b:1::/96 dev lo`,
  scenarios: new URL('./freebind-netns.scenarios.ts', import.meta.url),
  env: { EDGE46_FREEBIND_NETNS: '1' },
  name: 'IP_FREEBIND inside a private network namespace',
  userNamespace: true,
  unavailable: () =>
    loadNative() === null ? `native addon unavailable: ${nativeLoadError() ?? 'unknown reason'}` : null,
});
