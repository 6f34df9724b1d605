// checkNat46Bind against the real kernel: with and without the local route, with IP_FREEBIND (the
// native addon) and with a plain socket (net.ipv6.ip_nonlocal_bind off, then on). The cases run in
// nat46-check.scenarios.ts inside a private network namespace (real root: the sysctl is per namespace).
import { runInPrivateNetns } from '../../helpers/private-netns.js';

runInPrivateNetns({
  setup: `ip link set lo up
sysctl -q -w net.ipv6.ip_nonlocal_bind=0`,
  scenarios: new URL('./nat46-check.scenarios.ts', import.meta.url),
  env: { EDGE46_NAT46_NETNS: '1' },
  name: 'checkNat46Bind inside a private network namespace',
});
