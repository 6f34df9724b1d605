// IP_FREEBIND sockets from the native addon, checked where it matters: NAT46 source addresses in a
// prefix made local with `ip -6 route add local 64:ff9b:1::/96 dev lo`. The scenarios run in
// freebind-netns.scenarios.ts inside a private network namespace (`unshare -rn`: root, or unprivileged
// user namespaces) that vanishes with the process, so no route on this machine is touched.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { loadNative, nativeLoadError } from '../../../src/pipe/native.js';

const SETUP = `
set -e
ip link set lo up
ip -6 route add local 64:ff9b:1::/96 dev lo
exec "$@"
`;

function unavailable(): string | null {
  if (loadNative() === null) return `native addon unavailable: ${nativeLoadError() ?? 'unknown reason'}`;
  const probe = spawnSync(
    'unshare',
    ['-rn', 'sh', '-c', 'ip link set lo up && ip -6 route add local 64:ff9b:1::/96 dev lo'],
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
  const scenarios = fileURLToPath(new URL('./freebind-netns.scenarios.ts', import.meta.url));
  t.spawn(
    'unshare',
    ['-rn', 'sh', '-c', SETUP, 'setup', process.execPath, ...process.execArgv, scenarios],
    { env: { ...process.env, EDGE46_FREEBIND_NETNS: '1' } },
    'IP_FREEBIND inside a private network namespace',
  );
}
