/**
 * `npm run bench` — edge46 side by side with direct, node-http-proxy and (when installed) HAProxy, nginx
 * and sniproxy. Usage: node dist/bench/main.js [--quick | --smoke] [--only bulk,rate,http,idle,micro]
 * [--out DIR] [--no-readme]. bench/README.md describes what is measured and how.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { startBackends } from './backends.js';
import { ROOT, hardNofile, hello, pinning, ports, type BenchEnv } from './env.js';
import { httpKeepAlive } from './http.js';
import { LoadHelper } from './load.js';
import { describeMachine } from './machine.js';
import { micro, type MicroResult } from './micro.js';
import { bulk, connectionRate, idleMemory, type Live } from './passthrough.js';
import { commandPath, commandVersion } from './peers.js';
import { makePlan, type Ctx, type Mode } from './plan.js';
import { stopAll } from './procs.js';
import { renderMarkdown, updateReadme, writeResults, type Results, type SystemStatus } from './report.js';
import { SYSTEMS, type SystemId, type SystemSpec } from './systems.js';
import { checkTargets } from './targets.js';
import { verifyHttp, verifyTls } from './verify.js';
import type { Cell } from './cells.js';

const SCENARIOS = ['micro', 'bulk', 'rate', 'http', 'idle'] as const;
type Scenario = (typeof SCENARIOS)[number];

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      smoke: { type: 'boolean' },
      only: { type: 'string' },
      out: { type: 'string' },
      'no-readme': { type: 'boolean' },
    },
  });
  const mode: Mode = values.smoke === true ? 'smoke' : values.quick === true ? 'quick' : 'full';
  const only = new Set<Scenario>(
    values.only === undefined
      ? SCENARIOS
      : (values.only.split(',') as Scenario[]).filter((s) => SCENARIOS.includes(s)),
  );
  const plan = makePlan(mode);
  const started = Date.now();
  const { proxyCpu, loadCpu } = pinning();
  if (loadCpu !== undefined) {
    // The bench itself (mostly asleep) stays off the proxy's CPU.
    execFileSync('taskset', ['-a', '-p', '-c', loadCpu, String(process.pid)], { stdio: 'ignore' });
  }
  const dir = mkdtempSync(join(tmpdir(), 'edge46-bench-'));
  const nofile = hardNofile();
  const load = LoadHelper.build(dir, loadCpu);
  const backends = await startBackends(load, dir, loadCpu);
  const env: BenchEnv = {
    root: ROOT,
    dir,
    proxyCpu,
    loadCpu,
    nofile,
    maxConnections: Math.min(10_000, Math.floor((nofile - 200) / 2)),
    backends: backends.ports,
    dnsPort: backends.dnsPort,
    hellos: { a: hello('openssl-sni'), b: hello('node-sni') },
    ports,
  };
  const wrk = mode === 'full' ? commandPath('wrk') : null;
  const ctx: Ctx = {
    env,
    plan,
    load,
    wrk,
    idleCount: mode === 'full' ? env.maxConnections : mode === 'quick' ? 2_000 : 200,
    log,
  };
  const wanted = SYSTEMS.filter((s) =>
    mode === 'smoke' ? ['direct', 'edge46-splice', 'edge46-js'].includes(s.id) : true,
  );
  const statuses: Partial<Record<SystemId, SystemStatus>> = {};
  const usable: SystemSpec[] = [];
  for (const spec of wanted) {
    const why = spec.unavailable();
    statuses[spec.id] = {
      label: spec.label,
      version: why === null ? spec.version() : '–',
      status: why === null ? 'ok' : `skipped: ${why}`,
    };
    if (why === null) usable.push(spec);
    else log(`${spec.id}: skipped (${why})`);
  }
  const machine = describeMachine(env, {
    ...Object.fromEntries(usable.map((s) => [s.id, s.version()])),
    ...(wrk === null ? {} : { wrk: commandVersion(wrk, ['--version'], /wrk \S+/) }),
  });
  log(`edge46 bench (${mode}): ${machine.cpus} CPUs, ${machine.pinning}`);

  const cells: Cell[] = [];
  let microResults: MicroResult[] = [];
  try {
    if (only.has('micro')) {
      log('micro-benchmarks');
      microResults = micro(plan.microMs);
    }
    const throughput = only.has('bulk') || only.has('rate') || only.has('http');
    const live: (Live & { spec: SystemSpec })[] = [];
    if (throughput) {
      for (const spec of usable) {
        try {
          const running = await spec.start(env);
          if (spec.tls) await verifyTls(env, running);
          if (spec.http) await verifyHttp(running);
          live.push({ id: spec.id, running, spec });
          log(`${spec.id}: answers correctly`);
        } catch (err) {
          const status = statuses[spec.id];
          if (status !== undefined) status.status = `failed: ${String(err).slice(0, 300)}`;
          log(`${spec.id}: FAILED verification: ${String(err)}`);
        }
      }
      const tls = live.filter((l) => l.spec.tls);
      const http = live.filter((l) => l.spec.http);
      if (only.has('bulk')) {
        log('scenario: bulk');
        cells.push(...(await bulk(ctx, tls)));
      }
      if (only.has('rate')) {
        log('scenario: connection rate');
        cells.push(await connectionRate(ctx, tls));
      }
      if (only.has('http')) {
        log('scenario: http keep-alive');
        cells.push(...(await httpKeepAlive(ctx, http)));
      }
      await Promise.all(live.map((l) => l.running.stop()));
    }
    if (only.has('idle')) {
      log('scenario: idle memory');
      const specs = usable.filter(
        (s) => s.tls && s.id !== 'direct' && s.id !== 'haproxy-splice' && statuses[s.id]?.status === 'ok',
      );
      cells.push(await idleMemory(ctx, specs));
    }
  } finally {
    await backends.stop();
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }

  machine.loadAverageAtEnd = loadavg().map((x) => Math.round(x * 100) / 100);
  const results: Results = {
    schema: 1,
    date: new Date(started).toISOString(),
    mode,
    plan,
    machine,
    systems: statuses,
    scenarios: cells,
    micro: microResults,
    targets: checkTargets(cells),
    seconds: (Date.now() - started) / 1000,
  };
  const markdown = renderMarkdown(results);
  process.stdout.write(`\n${markdown}\n`);
  const outDir = values.out ?? join(ROOT, 'bench', 'results');
  const written = writeResults(outDir, results, markdown);
  log(`wrote ${written.json} and ${written.md}`);
  if (
    mode === 'full' &&
    values.out === undefined &&
    values['no-readme'] !== true &&
    only.size === SCENARIOS.length
  ) {
    updateReadme(join(ROOT, 'bench', 'README.md'), markdown, basename(written.json));
    log('updated bench/README.md');
  }
}

main().catch(async (err: unknown) => {
  console.error(err);
  await stopAll();
  process.exit(1);
});
