/**
 * `workers: auto` = the CPUs this process may really use: os.availableParallelism() (CPU affinity),
 * lowered to a cgroup CPU limit when one is set (a container limited to 2 CPUs on a 64-core node must
 * not start 64 workers). cgroup v2 `cpu.max` and v1 `cpu.cfs_quota_us`/`cpu.cfs_period_us` are read.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

export function resolveWorkerCount(
  setting: 'auto' | number,
  readFile: (path: string) => string | null = tryRead,
): number {
  if (setting !== 'auto') return setting;
  const cpus = availableParallelism();
  const limit = cgroupCpuLimit(readFile);
  return Math.max(1, limit === null ? cpus : Math.min(cpus, Math.ceil(limit)));
}

/** CPUs allowed by the cgroup quota, or null when unlimited or unknown. */
export function cgroupCpuLimit(readFile: (path: string) => string | null): number | null {
  const v2 = readFile('/sys/fs/cgroup/cpu.max');
  if (v2 !== null) return parseCpuMax(v2);
  for (const dir of ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct']) {
    const quota = readFile(`${dir}/cpu.cfs_quota_us`);
    const period = readFile(`${dir}/cpu.cfs_period_us`);
    if (quota !== null && period !== null) return parseCfs(quota, period);
  }
  return null;
}

/** cgroup v2: "max 100000" (unlimited) or "200000 100000" (2 CPUs). */
export function parseCpuMax(text: string): number | null {
  const [quota, period] = text.trim().split(/\s+/);
  if (quota === undefined || quota === 'max') return null;
  return ratio(Number(quota), Number(period ?? 100_000));
}

/** cgroup v1: quota -1 is unlimited. */
export function parseCfs(quotaText: string, periodText: string): number | null {
  const quota = Number(quotaText.trim());
  if (quota < 0) return null;
  return ratio(quota, Number(periodText.trim()));
}

function ratio(quota: number, period: number): number | null {
  if (!Number.isFinite(quota) || !Number.isFinite(period) || quota <= 0 || period <= 0) return null;
  return quota / period;
}

function tryRead(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}
