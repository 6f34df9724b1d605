// `workers: 2` with the real process: a killed worker is replaced (with a logged reason) while the
// proxy keeps serving; a reload reaches every worker; SIGTERM drains them all and the primary exits 0.
// Needs `npm run build` (npm test does).
import t, { type Test } from 'tap';
import type { JsonRecord } from '../../helpers/process.js';
import {
  askThrough,
  requireBuild,
  startEdgeProcess,
  startLabelBackend,
  type EdgeProcess,
} from '../../helpers/ops.js';

const skip = requireBuild();

const config = (routes: string): string => `
listeners:
  - { name: main, address: "127.0.0.1:0", protocol: tls, backendPort: 443 }
admin: { address: "127.0.0.1:0" }
workers: 2
drain: { announceSeconds: 0.5, timeoutSeconds: 5 }
backends: { allow: ["::1/128"], deny: [] }
resolver: { servers: ["127.0.0.1:1"], timeoutMs: 500, attempts: 1 }
routes:
${routes}
log: { level: info }
`;

/** Connects until every worker in `wanted` has served one (bounded), checking each answer. */
async function serveFromEach(
  t: Test,
  edge: EdgeProcess,
  sni: string,
  answer: string,
  wanted: ReadonlySet<unknown>,
): Promise<void> {
  const from = edge.mark();
  const served = new Set<unknown>();
  for (let i = 0; i < 20 && served.size < wanted.size; i++) {
    t.equal(await askThrough(edge.listenerPort('main'), sni), answer, `${sni} answered (${i})`);
    let seen = -1;
    const record: JsonRecord = await edge.waitLog((r) => r.msg === 'connection closed' && ++seen === i, {
      from,
    });
    if (wanted.has(record.worker)) served.add(record.worker);
  }
  t.same([...served].sort(), [...wanted].sort(), `served by workers ${[...wanted].join(', ')}`);
}

t.test('a killed worker is replaced and the proxy keeps serving', { skip }, async (t) => {
  const a = await startLabelBackend(t, 'A');
  const edge = await startEdgeProcess(t, config(`  - { host: a.example, target: "[::1]:${a.port}" }`));
  const ready = edge.child.jsonLines().filter((r) => r.msg === 'worker ready');
  t.equal(ready.length, 2, 'two workers ready');
  await serveFromEach(t, edge, 'a.example', 'A', new Set(ready.map((r) => r.worker)));

  const victim = ready[0] as JsonRecord;
  const survivor = ready[1] as JsonRecord;
  const from = edge.mark();
  process.kill(Number(victim.pid), 'SIGKILL');
  const died = await edge.waitLog(
    (r) => r.msg === 'worker died (killed by SIGKILL); starting a replacement',
    {
      from,
    },
  );
  t.match(died, { worker: victim.worker, signal: 'SIGKILL', restartInMs: Number });
  await serveFromEach(t, edge, 'a.example', 'A', new Set([survivor.worker]));

  const replacement = await edge.waitLog((r) => r.msg === 'worker ready', { from });
  t.not(replacement.pid, victim.pid, 'a new process');
  await serveFromEach(t, edge, 'a.example', 'A', new Set([survivor.worker, replacement.worker]));

  const m = await edge.metrics();
  t.equal(m.get('edge46_worker_restarts_total'), 1, 'restart counted');
  t.equal(m.get('edge46_workers', { state: 'ready' }), 2, 'two workers again');
  const status = JSON.parse((await edge.admin('/status')).text) as { workers: { restarts: number }[] };
  t.same(
    status.workers.map((w) => w.restarts).sort(),
    [0, 1],
    'the status lists the replacement with its restart count',
  );
});

t.test('a reload reaches every worker; SIGTERM drains them all', { skip }, async (t) => {
  const a = await startLabelBackend(t, 'A');
  const b = await startLabelBackend(t, 'B');
  const routeA = `  - { host: a.example, target: "[::1]:${a.port}" }`;
  const edge = await startEdgeProcess(t, config(routeA));
  const workers = new Set(
    edge.child
      .jsonLines()
      .filter((r) => r.msg === 'worker ready')
      .map((r) => r.worker),
  );
  t.equal(
    await askThrough(edge.listenerPort('main'), 'b.example'),
    'alert:112',
    'no route for b.example yet',
  );

  let from = edge.mark();
  await edge.writeConfig(config(`${routeA}\n  - { host: b.example, target: "[::1]:${b.port}" }`));
  t.match(
    await edge.waitLog((r) => typeof r.msg === 'string' && r.msg.startsWith('config reloaded'), { from }),
    { msg: /2 route\(s\) \(2 worker\(s\)\)$/, role: 'primary' },
  );
  await serveFromEach(t, edge, 'b.example', 'B', workers);

  from = edge.mark();
  await edge.writeConfig('routes: nope\n');
  await edge.waitLog((r) => typeof r.msg === 'string' && r.msg.startsWith('config reload rejected'), {
    from,
  });
  await serveFromEach(t, edge, 'b.example', 'B', workers);
  const m = await edge.metrics();
  t.equal(m.get('edge46_config_reloads_total', { result: 'success' }), 1, 'counted once, by the primary');
  t.equal(m.get('edge46_config_reloads_total', { result: 'failure' }), 1);

  from = edge.mark();
  edge.signal('SIGTERM');
  await edge.waitLog(
    (r) => r.role === 'primary' && typeof r.msg === 'string' && r.msg.startsWith('draining'),
    {
      from,
    },
  );
  t.equal((await edge.admin('/readyz')).status, 503, '/readyz fails at once');
  const exit = await edge.child.exited;
  t.equal(exit.code, 0, 'primary exits 0');
  const after = edge.child.jsonLines().slice(from);
  t.same(
    new Set(after.filter((r) => r.msg === 'edge46 stopped').map((r) => r.worker)),
    workers,
    'every worker drained and stopped',
  );
  t.ok(after.some((r) => r.msg === 'edge46 cluster stopped'));
});
