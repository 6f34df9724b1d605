// The http listener against backend addresses that cannot answer: a black hole (SYNs silently dropped →
// 504 after timeouts.connectMs) and an unreachable route (→ 502 at once). They run in
// errors-netns.scenarios.ts inside a private network namespace made with `unshare -rn` (root, or
// unprivileged user namespaces), which vanishes with the process: no route on this machine is touched.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';

// As in test/integration/connect/dialer-netns.test.ts: the black hole is a route via a neighbour with a
// fixed MAC on one end of a veth pair, whose other end drops the frames (a `blackhole` route would fail
// at once, not time out).
const SETUP = `
set -e
ip link set lo up
ip link add v0 type veth peer name v1
ip link set v0 up
ip link set v1 up
ip -6 route add 2001:db8:dead::/48 via fe80::99 dev v0
ip -6 neigh replace fe80::99 lladdr 02:00:00:00:00:99 dev v0 nud permanent
ip -6 route add unreachable 2001:db8:bad::/48
exec "$@"
`;

function unavailable(): string | null {
  const probe = spawnSync(
    'unshare',
    ['-rn', 'sh', '-c', 'ip link set lo up && ip link add v0 type veth peer name v1'],
    {
      encoding: 'utf8',
      timeout: 10_000,
    },
  );
  if (probe.error !== undefined) return `cannot run unshare: ${probe.error.message}`;
  if (probe.status !== 0) {
    return `no private network namespace (needs root or user namespaces, and iproute2): ${probe.stderr.trim()}`;
  }
  return null;
}

const reason = unavailable();
if (reason !== null) {
  t.plan(0, reason);
} else {
  const scenarios = fileURLToPath(new URL('./errors-netns.scenarios.ts', import.meta.url));
  t.spawn(
    'unshare',
    ['-rn', 'sh', '-c', SETUP, 'setup', process.execPath, ...process.execArgv, scenarios],
    { env: { ...process.env, EDGE46_HTTP_NETNS: '1' } },
    'http listener inside a private network namespace',
  );
}
