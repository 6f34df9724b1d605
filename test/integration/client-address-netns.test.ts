// NAT64 clients and NAT46 sources with edge46 in-process, on the loopback of a private network namespace
// (`unshare -n`, root): lo gets a client address inside the NAT64 well-known prefix (64:ff9b::c000:20a,
// i.e. 192.0.2.10 through a translator) and the local route for the NAT46 prefix. The namespace vanishes
// with the process. Cases: client-address-netns.scenarios.ts.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const SETUP = `
set -e
ip link set lo up
ip -6 addr add 64:ff9b::c000:20a/128 dev lo nodad
ip -6 route add local 64:ff9b:1::/96 dev lo
exec "$@"
`;

function unavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (addresses and routes in a private network namespace)';
  const probe = spawnSync('unshare', ['-n', 'sh', '-c', SETUP, 'probe', 'true'], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (probe.error !== undefined) return `cannot run unshare: ${probe.error.message}`;
  if (probe.status !== 0) return `no private network namespace (iproute2): ${probe.stderr.trim()}`;
  return null;
}

const reason = unavailable();
if (reason !== null) {
  if (process.env.CI === 'true') t.fail(`must run in CI, but: ${reason}`);
  else t.plan(0, reason);
} else {
  const scenarios = fileURLToPath(new URL('./client-address-netns.scenarios.ts', import.meta.url));
  t.spawn(
    'unshare',
    ['-n', 'sh', '-c', SETUP, 'setup', process.execPath, ...process.execArgv, scenarios],
    { env: { ...process.env, EDGE46_CLIENT_NETNS: '1' } },
    'NAT64 clients and NAT46 sources inside a private network namespace',
  );
}
