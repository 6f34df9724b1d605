import { availableParallelism } from 'node:os';
import t from 'tap';
import {
  cgroupCpuLimit,
  parseCfs,
  parseCpuMax,
  resolveWorkerCount,
} from '../../../src/cluster/worker-count.js';

t.test('cgroup limits', (t) => {
  t.equal(parseCpuMax('max 100000\n'), null);
  t.equal(parseCpuMax('200000 100000\n'), 2);
  t.equal(parseCpuMax('150000 100000'), 1.5);
  t.equal(parseCpuMax('garbage'), null);
  t.equal(parseCfs('-1\n', '100000\n'), null);
  t.equal(parseCfs('50000', '100000'), 0.5);
  const files = (map: Record<string, string>) => (path: string) => map[path] ?? null;
  t.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu.max': '300000 100000' })), 3, 'v2');
  t.equal(
    cgroupCpuLimit(
      files({
        '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '100000',
        '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000',
      }),
    ),
    1,
    'v1',
  );
  t.equal(cgroupCpuLimit(files({})), null);
  t.end();
});

t.test('auto = available CPUs, lowered to the cgroup limit (rounded up), at least 1', (t) => {
  const cpus = availableParallelism();
  t.equal(resolveWorkerCount(3), 3, 'a number is taken as is');
  t.equal(
    resolveWorkerCount('auto', () => null),
    cpus,
  );
  t.equal(
    resolveWorkerCount('auto', (p) => (p === '/sys/fs/cgroup/cpu.max' ? '50000 100000' : null)),
    1,
  );
  t.equal(
    resolveWorkerCount('auto', (p) => (p === '/sys/fs/cgroup/cpu.max' ? '100000000 100000' : null)),
    cpus,
  );
  t.end();
});
