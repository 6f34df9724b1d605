// Metrics move with `workers: 2`: the same known sequence as metrics.test.ts against the real process
// (`node dist/src/main.js`); the primary's /metrics sums both workers' registries and its own.
// Needs `npm run build` (npm test does) and dnsmasq.
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { startDnsmasq } from '../../helpers/dnsmasq.js';
import { requireBuild, startEdgeProcess } from '../../helpers/ops.js';
import { checkMetrics, DNS_RECORDS, routes, runSequence, startBackends, ZONE } from './sequence.js';

const skip =
  requireBuild() || (spawnSync('dnsmasq', ['--version']).status === 0 ? false : 'dnsmasq is not installed');

t.test('counters and histograms summed over two workers', { skip }, async (t) => {
  const dns = await startDnsmasq(null, { listen: '127.0.0.1', zone: ZONE, records: DNS_RECORDS, t });
  const backends = await startBackends(t);
  const edge = await startEdgeProcess(
    t,
    `
listeners:
  - { name: edge, address: "127.0.0.1:0", protocol: tls, backendPort: 443 }
admin: { address: "127.0.0.1:0" }
workers: 2
drain: { announceSeconds: 0, timeoutSeconds: 5 }
backends: { allow: ["::1/128"], deny: [] }
resolver: { servers: ["${dns.server}"], timeoutMs: 1000, attempts: 1 }
routes: ${JSON.stringify(routes(backends))}
log: { level: info }
`,
  );
  const before = await edge.metrics();
  t.equal(before.get('edge46_workers', { state: 'ready' }), 2, 'two workers serving');
  t.same(before.series('edge46_connections_total'), {}, 'nothing counted yet');

  await runSequence(t, {
    port: edge.listenerPort('edge'),
    closed: (n) => {
      let seen = -1;
      return edge.waitLog((r) => r.msg === 'connection closed' && ++seen === n);
    },
  });
  const workersUsed = new Set(
    edge.child
      .jsonLines()
      .filter((r) => r.msg === 'connection closed')
      .map((r) => r.worker),
  );
  t.equal(workersUsed.size, 2, 'connections were spread over both workers');

  const after = await edge.metrics();
  checkMetrics(t, after, 'edge', { singleCache: false });
  t.ok((after.get('process_cpu_user_seconds_total') ?? 0) > 0, 'process metrics included');
  t.ok((after.get('nodejs_heap_size_used_bytes') ?? 0) > 0, 'node metrics included');

  const from = edge.mark();
  edge.signal('SIGTERM');
  const exit = await edge.child.exited;
  t.equal(exit.code, 0, 'exits 0 after drain');
  t.ok(
    edge.child
      .jsonLines()
      .slice(from)
      .some((r) => r.msg === 'edge46 cluster stopped'),
  );
});
