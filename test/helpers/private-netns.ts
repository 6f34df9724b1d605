/**
 * Runs a scenarios file inside a private network namespace made with `unshare` (root, or unprivileged
 * user namespaces with `-r`). The namespace vanishes with the process: no route, address or sysctl of
 * this machine is touched and nothing needs cleaning up. The scenarios' TAP output becomes a subtest.
 *
 * Without the privilege the file is skipped with the reason, except under CI=true, where CI runs as root
 * and a skip would hide a broken environment: there it fails.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';

/**
 * Two backend prefixes that cannot answer: 2001:db8:dead::/48 is a silent black hole (a route via a
 * neighbour with a fixed MAC on one end of a veth pair whose other end drops the frames, so SYNs time
 * out — a `blackhole` route would fail at once) and 2001:db8:bad::/48 is unreachable (fails at once).
 */
export const UNANSWERED_PREFIXES_SETUP = `ip link set lo up
ip link add v0 type veth peer name v1
ip link set v0 up
ip link set v1 up
ip -6 route add 2001:db8:dead::/48 via fe80::99 dev v0
ip -6 neigh replace fe80::99 lladdr 02:00:00:00:00:99 dev v0 nud permanent
ip -6 route add unreachable 2001:db8:bad::/48`;

export interface PrivateNetnsRun {
  /** Shell commands run in the namespace before the scenarios (`set -e` applies). */
  readonly setup: string;
  /** The scenarios file, resolved against the caller's import.meta.url. */
  readonly scenarios: URL;
  /** Subtest name. */
  readonly name: string;
  /** Marks the child as the in-namespace run (scenarios files check it). */
  readonly env: Readonly<Record<string, string>>;
  /** `-rn` maps the caller to root in a user namespace (works unprivileged); `-n` needs real root. */
  readonly userNamespace?: boolean;
  /** Extra reason to skip (e.g. the native addon is missing), checked first. */
  readonly unavailable?: () => string | null;
}

function unshareArgs(run: PrivateNetnsRun): string[] {
  return [run.userNamespace === true ? '-rn' : '-n', 'sh', '-c', `set -e\n${run.setup}\nexec "$@"`, 'setup'];
}

function unavailable(run: PrivateNetnsRun): string | null {
  const extra = run.unavailable?.() ?? null;
  if (extra !== null) return extra;
  if (run.userNamespace !== true && process.getuid?.() !== 0)
    return 'needs root (a private network namespace)';
  const probe = spawnSync('unshare', [...unshareArgs(run), 'true'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.error !== undefined) return `cannot run unshare: ${probe.error.message}`;
  if (probe.status !== 0)
    return `no private network namespace (root or user namespaces, iproute2): ${probe.stderr.trim()}`;
  return null;
}

export function runInPrivateNetns(run: PrivateNetnsRun): void {
  const reason = unavailable(run);
  if (reason !== null) {
    if (process.env.CI === 'true') t.fail(`must run in CI, but: ${reason}`);
    else t.plan(0, reason);
    return;
  }
  t.spawn(
    'unshare',
    [...unshareArgs(run), process.execPath, ...process.execArgv, fileURLToPath(run.scenarios)],
    { env: { ...process.env, ...run.env } },
    run.name,
  );
}
