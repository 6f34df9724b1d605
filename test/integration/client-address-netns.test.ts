// NAT64 clients and NAT46 sources with edge46 in-process, on the loopback of a private network namespace:
// lo gets a client address inside the NAT64 well-known prefix (64:ff9b::c000:20a, i.e. 192.0.2.10
// through a translator) and the local route for the NAT46 prefix. Cases: client-address-netns.scenarios.ts.
import { runInPrivateNetns } from '../helpers/private-netns.js';

runInPrivateNetns({
  setup: `ip link set lo up
ip -6 addr add 64:ff9b::c000:20a/128 dev lo nodad
ip -6 route add local 64:ff9b:1::/96 dev lo`,
  scenarios: new URL('./client-address-netns.scenarios.ts', import.meta.url),
  env: { EDGE46_CLIENT_NETNS: '1' },
  name: 'NAT64 clients and NAT46 sources inside a private network namespace',
});
