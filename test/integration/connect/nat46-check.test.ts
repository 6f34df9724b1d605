// checkNat46Bind against the real kernel: with and without the local route, with IP_FREEBIND (the
// native addon) and with a plain socket (net.ipv6.ip_nonlocal_bind off, then on). The cases run in
// nat46-check.scenarios.ts inside a private network namespace (`unshare -n`, root) that vanishes with
// the process, so no route or sysctl of this machine is touched and the probe's packets stay inside it.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';

function unavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (sysctl and routes in a private network namespace)';
  const probe = spawnSync(
    'unshare',
    ['-n', 'sh', '-c', 'ip link set lo up && sysctl -q -w net.ipv6.ip_nonlocal_bind=0'],
    {
      encoding: 'utf8',
      timeout: 10_000,
    },
  );
  if (probe.error !== undefined) return `cannot run unshare: ${probe.error.message}`;
  if (probe.status !== 0) return `no private network namespace (iproute2, procps): ${probe.stderr.trim()}`;
  return null;
}

const reason = unavailable();
if (reason !== null) {
  if (process.env.CI === 'true') t.fail(`must run in CI, but: ${reason}`);
  else t.plan(0, reason);
} else {
  const scenarios = fileURLToPath(new URL('./nat46-check.scenarios.ts', import.meta.url));
  t.spawn(
    'unshare',
    [
      '-n',
      'sh',
      '-c',
      'ip link set lo up && exec "$@"',
      'setup',
      process.execPath,
      ...process.execArgv,
      scenarios,
    ],
    { env: { ...process.env, EDGE46_NAT46_NETNS: '1' } },
    'checkNat46Bind inside a private network namespace',
  );
}
