import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t, { type Test } from 'tap';
import type { Config } from '../../../src/config/schema.js';
import { describeReload, Reloader, restartOnlyChanges } from '../../../src/lifecycle/reload.js';
import { createLogger } from '../../../src/observe/logger.js';
import { Metrics } from '../../../src/observe/metrics.js';
import { validateConfig } from '../../../src/config/load.js';
import { LogCapture } from '../../helpers/edge.js';
import { PromText } from '../../helpers/ops.js';

const yaml = (routes: number): string =>
  `listeners: [{ name: a, address: "127.0.0.1:0", protocol: tls }]\nroutes:\n${Array.from(
    { length: routes },
    (_, i) => `  - { host: r${i}.example, target: "{host}" }`,
  ).join('\n')}\n`;

async function rig(t: Test, opts: { watch: boolean; apply?: (c: Config) => Promise<string> }) {
  const dir = await mkdtemp(join(tmpdir(), 'edge46-reloader-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'edge46.yaml');
  await writeFile(file, yaml(1));
  const stream = new PassThrough();
  const logs = new LogCapture(stream);
  const metrics = new Metrics({ defaultMetrics: false });
  const applied: Config[] = [];
  const reloader = new Reloader({
    file,
    log: createLogger({ level: 'debug', format: 'json', destination: stream }),
    metrics,
    watch: opts.watch,
    debounceMs: 20,
    apply:
      opts.apply ??
      ((c) => {
        applied.push(c);
        return Promise.resolve(`${c.routes.length} route(s)`);
      }),
  });
  await reloader.start();
  t.teardown(() => reloader.close());
  const count = async (result: string): Promise<number | undefined> =>
    new PromText(await metrics.text()).get('edge46_config_reloads_total', { result });
  return { dir, file, logs, reloader, applied, count };
}

t.test('a forced trigger (SIGHUP) applies the file even when unchanged', async (t) => {
  const r = await rig(t, { watch: false });
  const record = await r.reloader.trigger('SIGHUP');
  t.match(record, { ok: true, trigger: 'SIGHUP', summary: '1 route(s)' });
  t.equal(r.applied.length, 1);
  t.equal(await r.count('success'), 1);
  t.equal(
    await r.reloader.trigger('file change', false),
    null,
    'an unforced trigger with the same text does nothing',
  );
  t.equal(r.applied.length, 1);
});

t.test('invalid text: every problem logged, nothing applied, failure counted', async (t) => {
  const r = await rig(t, { watch: false });
  await writeFile(r.file, 'listeners: []\nroutes: [{ host: "a..b", target: 5 }]\nbogus: 1\n');
  const record = await r.reloader.trigger('SIGHUP');
  t.match(record, { ok: false });
  t.ok((record?.problems.length ?? 0) >= 3);
  const logged = r.logs.records.filter((x) => x.msg === 'config reload: problem');
  t.equal(logged.length, record?.problems.length, 'one log line per problem');
  t.ok(
    logged.every((x) => x.level === 50),
    'at error level',
  );
  t.equal(r.applied.length, 0);
  t.equal(await r.count('failure'), 1);
  t.equal(r.reloader.last, record);
});

t.test('an unreadable file and a failing apply are failures too', async (t) => {
  const r = await rig(t, {
    watch: false,
    apply: () => Promise.reject(new Error('cannot listen on 127.0.0.1:1')),
  });
  t.match(await r.reloader.trigger('SIGHUP'), {
    ok: false,
    problems: [{ message: 'not applied: cannot listen on 127.0.0.1:1' }],
  });
  await rm(r.file);
  t.match(await r.reloader.trigger('SIGHUP'), { ok: false, problems: [{ message: /cannot read .*ENOENT/ }] });
  t.equal(
    await r.reloader.trigger('file change', false),
    null,
    'a missing file during a rename is not a failure',
  );
  t.equal(await r.count('failure'), 2);
});

t.test('triggers during a reload fold into one follow-up', async (t) => {
  let release: () => void = () => {};
  let entered: () => void = () => {};
  const inFirst = new Promise<void>((resolve) => (entered = resolve));
  let calls = 0;
  const r = await rig(t, {
    watch: false,
    apply: async () => {
      calls++;
      if (calls === 1) {
        const held = new Promise<void>((resolve) => (release = resolve));
        entered();
        await held;
      }
      return 'ok';
    },
  });
  const first = r.reloader.trigger('SIGHUP');
  await inFirst;
  const second = r.reloader.trigger('SIGHUP');
  const third = r.reloader.trigger('file change', false);
  t.equal(second, third, 'the pending run is shared');
  release();
  t.match(await first, { trigger: 'SIGHUP' });
  t.match(await second, { trigger: 'SIGHUP, file change', ok: true });
  t.equal(calls, 2);
});

t.test('the file watcher reloads on a write and on an editor-style rename', async (t) => {
  const r = await rig(t, { watch: true });
  // The watcher and its debounce timer do not hold the process open (a running edge46 has sockets).
  const hold = setInterval(() => {}, 60_000);
  t.teardown(() => clearInterval(hold));
  let next = r.logs.waitFor((x) => x.msg === 'config reloaded: 2 route(s)');
  await writeFile(r.file, yaml(2));
  t.match(await next, { trigger: 'file change' });
  next = r.logs.waitFor((x) => x.msg === 'config reloaded: 3 route(s)');
  await writeFile(join(r.dir, '.edge46.yaml.swp'), yaml(3));
  await rename(join(r.dir, '.edge46.yaml.swp'), r.file);
  await next;
  t.same(
    r.applied.map((c) => c.routes.length),
    [2, 3],
  );
  t.equal(await r.count('success'), 2);
});

t.test('no file (embedded default): nothing to reload', async (t) => {
  const reloader = new Reloader({
    file: undefined,
    log: createLogger({ level: 'silent', format: 'json' }),
    apply: () => Promise.reject(new Error('never')),
  });
  await reloader.start();
  t.equal(await reloader.trigger('SIGHUP'), null);
  reloader.close();
  t.equal(await reloader.trigger('SIGHUP'), null, 'closed');
});

t.test('restart-only keys and the summary line', (t) => {
  const a = validateConfig({ listeners: [{ name: 'a', address: '127.0.0.1:0', protocol: 'tls' }] });
  const b = validateConfig({
    listeners: [{ name: 'a', address: '127.0.0.1:0', protocol: 'tls' }],
    workers: 3,
    admin: { address: '127.0.0.1:9000' },
  });
  if (!a.ok || !b.ok) throw new Error('fixture');
  t.same(restartOnlyChanges(a.config, b.config), ['workers', 'admin.address']);
  t.same(restartOnlyChanges(a.config, a.config), []);
  t.equal(
    describeReload({ added: ['x'], removed: ['y'], kept: ['a'], routes: 3 }),
    '2 listener(s), added x, removed y, 3 route(s)',
  );
  t.end();
});
