/**
 * `npm run bench -- --smoke`: a few seconds against edge46 and direct only; the JSON it writes has the
 * documented shape (scenarios with per-system runs, medians and ratios; machine; targets). Needs the build
 * (npm test builds first) and cc.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

const main = new URL('../../dist/bench/main.js', import.meta.url).pathname;
const skip = !existsSync(main) ? 'dist/bench/main.js not built (npm run build)' : false;

interface SmokeResults {
  mode: string;
  machine: { cpus: number; pinning: string; versions: Record<string, string> };
  systems: Record<string, { status: string }>;
  scenarios: {
    id: string;
    metrics: { key: string }[];
    systems: { system: string; runs: Record<string, number>[]; median: Record<string, number | null> }[];
    ratios: Record<string, Record<string, Record<string, number>>>;
  }[];
  micro: { name: string; opsPerSec: number }[];
  targets: { id: string; met: boolean | null }[];
}

t.test('bench --smoke writes results of the documented shape', { skip }, async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'edge46-bench-smoke-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [main, '--smoke', '--out', out],
      { timeout: 120_000, killSignal: 'SIGTERM' },
      (err, _stdout, stderr) =>
        resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stderr }),
    );
  });
  t.equal(code, 0, stderr.slice(-2000));
  const files = readdirSync(out);
  const json = files.find((f) => f.endsWith('-smoke.json'));
  t.ok(json, 'a JSON result file');
  t.ok(
    files.some((f) => f.endsWith('-smoke.md')),
    'a markdown summary',
  );
  if (json === undefined) return;
  const r = JSON.parse(readFileSync(join(out, json), 'utf8')) as SmokeResults;
  t.equal(r.mode, 'smoke');
  t.ok(r.machine.cpus >= 1 && r.machine.pinning.length > 0, 'machine and pinning stated');
  t.equal(r.systems.direct?.status, 'ok');
  t.equal(r.systems['edge46-js']?.status, 'ok', 'edge46 answers correctly');
  const ids = r.scenarios.map((s) => s.id);
  t.same(ids, ['bulk-1', 'rate', 'http-100', 'http-65536', 'idle']);
  for (const s of r.scenarios) {
    for (const sys of s.systems) {
      t.ok(sys.runs.length >= 1, `${s.id} ${sys.system} has runs`);
      for (const m of s.metrics) t.ok(m.key in sys.median, `${s.id} ${sys.system} median ${m.key}`);
    }
  }
  const bulk = r.scenarios.find((s) => s.id === 'bulk-1');
  const gbps = bulk?.systems.find((s) => s.system === 'edge46-js')?.median.gbps;
  t.ok(typeof gbps === 'number' && gbps > 0, 'edge46 moved bytes');
  t.ok(typeof bulk?.ratios['edge46-js']?.gbps?.direct === 'number', 'ratio against direct');
  t.ok(r.micro.length >= 4 && r.micro.every((m) => m.opsPerSec > 0), 'micro-benchmarks');
  t.ok(r.targets.length > 0, 'targets listed');
});
