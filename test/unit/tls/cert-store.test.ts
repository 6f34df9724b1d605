import t, { type Test } from 'tap';
import { once } from 'node:events';
import { copyFile, mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { validateConfig } from '../../../src/config/load.js';
import type { Config, ConfigInput } from '../../../src/config/schema.js';
import { createLogger } from '../../../src/observe/logger.js';
import {
  CertificateStore,
  MissingCertificateError,
  type CertificateReload,
} from '../../../src/tls/cert-store.js';
import { parseCertificatePair } from '../../../src/tls/certificate.js';
import { LogCapture } from '../../helpers/edge.js';
import { tlsFixtures as f, type FixtureName } from './fixtures.js';

function config(input: Partial<ConfigInput>): Config {
  const result = validateConfig({
    listeners: [{ name: 'tls', address: '127.0.0.1:0', protocol: 'tls' }],
    ...input,
  });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.config;
}

async function start(t: Test, cfg: Config): Promise<{ store: CertificateStore; logs: LogCapture }> {
  const stream = new PassThrough();
  const logs = new LogCapture(stream);
  const log = createLogger({ level: 'debug', format: 'json', destination: stream });
  const store = await CertificateStore.start(cfg, { log, debounceMs: 30 });
  t.teardown(() => store.close());
  return { store, logs };
}

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'edge46-store-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function fingerprint(name: FixtureName): string {
  const parsed = parseCertificatePair(f.cert(name), f.key(name));
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.cert.fingerprint;
}

/** Waits (event-driven, bounded) for a reload whose summary satisfies `predicate`. */
async function reloadWhere(
  store: CertificateStore,
  predicate: (r: CertificateReload) => boolean,
): Promise<CertificateReload> {
  // The store's watchers and timers never hold the process open (a real edge has its listeners).
  const keepAlive = setInterval(() => {}, 60_000);
  try {
    for (let i = 0; i < 20; i++) {
      const [summary] = (await once(store, 'reload')) as [CertificateReload];
      if (predicate(summary)) return summary;
    }
  } finally {
    clearInterval(keepAlive);
  }
  throw new Error('no matching reload after 20 reloads');
}

/** Replaces a file atomically (the way editors, cert-manager and kubelet do). */
async function replace(dir: string, name: string, content: string): Promise<void> {
  const tmp = join(dir, `.${name}.tmp`);
  await writeFile(tmp, content);
  await rename(tmp, join(dir, name));
}

t.test('configured pairs: exact, wildcard and default selection', async (t) => {
  const { store, logs } = await start(
    t,
    config({
      tls: {
        certificates: [f.files('wildcard'), f.files('exact'), f.files('default')],
        defaultCertificate: 'default.example.net',
      },
    }),
  );
  t.equal(store.select('a.example.com')?.entry.parsed.fingerprint, fingerprint('exact'));
  t.equal(store.select('a.example.com')?.match, 'exact');
  t.equal(store.select('zz.example.com')?.entry.parsed.fingerprint, fingerprint('wildcard'));
  t.equal(store.select('zz.example.com')?.match, 'wildcard');
  t.equal(store.select('other.example.org')?.entry.parsed.fingerprint, fingerprint('default'));
  t.equal(store.select(null)?.match, 'default');
  t.equal(logs.records.filter((r) => r.msg === 'certificate loaded').length, 3);
  const info = store.describe();
  t.equal(info.length, 3);
  t.same(
    info.filter((i) => i.default).map((i) => i.names),
    [['default.example.net']],
  );
});

t.test(
  'an invalid pair at start is logged and skipped; an expired one is served with a warning',
  async (t) => {
    const { store, logs } = await start(
      t,
      config({
        tls: {
          certificates: [
            { certFile: f.files('exact').certFile, keyFile: f.files('exact2').keyFile },
            f.files('expired'),
            { certFile: '/nonexistent/x.crt', keyFile: '/nonexistent/x.key' },
          ],
        },
      }),
    );
    t.equal(store.select('a.example.com'), null);
    t.equal(store.select('expired.example.com')?.entry.parsed.fingerprint, fingerprint('expired'));
    const rejected = logs.records.filter((r) => r.msg === 'certificate rejected').map((r) => r.reason);
    t.same(rejected, ['key does not match the certificate', 'cannot read /nonexistent/x.crt: ENOENT']);
    t.ok(logs.records.some((r) => r.msg === 'certificate loaded, but it is not valid now'));
    t.match(store.describe()[0]?.problem, /^expired on 2001/);
  },
);

t.test('certificateDir: NAME.crt/NAME.key pairs and Kubernetes secret folders', async (t) => {
  const dir = await tempDir(t);
  await copyFile(f.files('wildcard').certFile, join(dir, 'wild.crt'));
  await copyFile(f.files('wildcard').keyFile, join(dir, 'wild.key'));
  await copyFile(f.files('default').certFile, join(dir, 'lonely.crt')); // no key: ignored
  // A secret volume: tls.crt -> ..data/tls.crt, ..data -> ..2030_01_01 (timestamped folder).
  const secret = join(dir, 'site-a');
  await mkdir(join(secret, '..2030_01_01'), { recursive: true });
  await copyFile(f.files('exact').certFile, join(secret, '..2030_01_01', 'tls.crt'));
  await copyFile(f.files('exact').keyFile, join(secret, '..2030_01_01', 'tls.key'));
  await symlink('..2030_01_01', join(secret, '..data'));
  await symlink('..data/tls.crt', join(secret, 'tls.crt'));
  await symlink('..data/tls.key', join(secret, 'tls.key'));

  const { store } = await start(t, config({ tls: { certificateDir: dir } }));
  t.equal(store.select('a.example.com')?.entry.parsed.fingerprint, fingerprint('exact'));
  t.equal(store.select('q.example.com')?.entry.parsed.fingerprint, fingerprint('wildcard'));
  t.equal(store.describe().length, 2);
  t.same([...store.watching].sort(), [dir, secret].sort());

  // kubelet's update: a new timestamped folder, then an atomic swap of the ..data symlink.
  const next = join(secret, '..2030_02_01');
  await mkdir(next);
  await copyFile(f.files('exact2').certFile, join(next, 'tls.crt'));
  await copyFile(f.files('exact2').keyFile, join(next, 'tls.key'));
  const before = store.select('a.example.com')?.entry;
  await symlink('..2030_02_01', join(secret, '..data_tmp'));
  const reloaded = reloadWhere(store, (r) => r.loaded.length > 0);
  await rename(join(secret, '..data_tmp'), join(secret, '..data'));
  t.same((await reloaded).loaded, [join(secret, 'tls.crt')]);
  const after = store.select('a.example.com')?.entry;
  t.equal(after?.parsed.fingerprint, fingerprint('exact2'));
  t.not(after?.context, before?.context, 'a new context for new handshakes');
  t.equal(
    store.select('q.example.com')?.entry.parsed.fingerprint,
    fingerprint('wildcard'),
    'others unchanged',
  );
});

t.test(
  'a changed valid pair replaces the old one; an invalid change is rejected and the old one stays',
  async (t) => {
    const dir = await tempDir(t);
    const files = { certFile: join(dir, 'site.crt'), keyFile: join(dir, 'site.key') };
    await copyFile(f.files('exact').certFile, files.certFile);
    await copyFile(f.files('exact').keyFile, files.keyFile);
    const { store, logs } = await start(t, config({ tls: { certificates: [files] } }));
    t.equal(store.select('a.example.com')?.entry.parsed.fingerprint, fingerprint('exact'));

    // The certificate changes but the key does not: a mismatched pair.
    let reloaded = reloadWhere(store, (r) => r.rejected.length > 0);
    await replace(dir, 'site.crt', f.cert('exact2'));
    t.same((await reloaded).rejected, [
      { file: files.certFile, reason: 'key does not match the certificate' },
    ]);
    t.equal(store.select('a.example.com')?.entry.parsed.fingerprint, fingerprint('exact'), 'old one kept');
    t.ok(logs.records.some((r) => r.msg === 'certificate rejected: keeping the previous one'));

    // Garbage is rejected the same way.
    reloaded = reloadWhere(store, (r) => r.rejected.length > 0);
    await replace(dir, 'site.key', 'not a key');
    t.match((await reloaded).rejected[0]?.reason, /not an unencrypted PEM private key/);
    t.equal(store.select('a.example.com')?.entry.parsed.fingerprint, fingerprint('exact'));

    // The matching key arrives: the new pair is served.
    reloaded = reloadWhere(store, (r) => r.loaded.length > 0);
    await replace(dir, 'site.key', f.key('exact2'));
    t.same((await reloaded).loaded, [files.certFile]);
    t.equal(store.select('a.example.com')?.entry.parsed.fingerprint, fingerprint('exact2'));
    t.ok(logs.records.some((r) => r.msg === 'certificate replaced'));

    // A reload with nothing changed keeps the entry (and its context) as it is.
    const entry = store.select('a.example.com')?.entry;
    const again = await store.reload();
    t.same(again, { loaded: [], rejected: [], removed: [], unchanged: 1 });
    t.equal(store.select('a.example.com')?.entry, entry);
  },
);

t.test('self-signed stand-ins for terminate routes nothing covers', async (t) => {
  const cfg = config({
    tls: { certificates: [f.files('exact')] },
    routes: [
      { host: 'a.example.com', target: '{host}', tls: 'terminate' },
      { host: 'dev.example.org', target: '{host}', tls: 'terminate' },
      { host: '*.apps.example.org', target: '{host}', tls: 'terminate' },
      { host: 'pass.example.org', target: '{host}' },
    ],
  });
  const { store, logs } = await start(t, cfg);
  t.equal(store.select('a.example.com')?.entry.generated, false);
  const dev = store.select('dev.example.org');
  t.equal(dev?.entry.generated, true);
  t.same(dev?.entry.names, ['dev.example.org']);
  t.equal(dev?.entry.source, 'self-signed:dev.example.org');
  t.same(store.select('x.apps.example.org')?.entry.names, ['*.apps.example.org']);
  t.equal(store.select('pass.example.org'), null, 'passthrough routes get nothing');
  const warnings = logs.records.filter((r) => r.msg?.startsWith('no certificate for terminate route'));
  t.same(warnings.map((w) => w.route).sort(), ['*.apps.example.org', 'dev.example.org']);

  // A config reload keeps the stand-in it already made, and a real certificate replaces it.
  await store.reconfigure(cfg);
  t.equal(store.select('dev.example.org')?.entry, dev?.entry);
  t.equal(logs.records.filter((r) => r.msg?.startsWith('no certificate for terminate route')).length, 2);
});

t.test(
  'a catch-all terminate route gets a generated default unless a default certificate exists',
  async (t) => {
    const routes = [{ host: '*', target: '{host}', tls: 'terminate' as const }];
    const { store } = await start(t, config({ routes }));
    t.same(store.select('anything.example')?.entry.names, ['edge46.invalid']);
    t.equal(store.select(null)?.match, 'default');
    const { store: withDefault } = await start(
      t,
      config({
        routes,
        tls: { certificates: [f.files('default')], defaultCertificate: 'default.example.net' },
      }),
    );
    t.equal(withDefault.select('anything.example')?.entry.generated, false);
    t.equal(withDefault.describe().length, 1);
  },
);

t.test(
  'requireCertificates: an uncovered terminate route is an error at start and on reconfigure',
  async (t) => {
    const covered = config({
      tls: { certificates: [f.files('exact')], requireCertificates: true },
      routes: [{ host: 'a.example.com', target: '{host}', tls: 'terminate' }],
    });
    const uncovered = config({
      tls: { certificates: [f.files('exact')], requireCertificates: true },
      routes: [
        { host: 'a.example.com', target: '{host}', tls: 'terminate' },
        { host: 'dev.example.org', target: '{host}', tls: 'terminate' },
      ],
    });
    const stream = new PassThrough();
    const log = createLogger({ level: 'silent', format: 'json', destination: stream });
    await t.rejects(
      CertificateStore.start(uncovered, { log }),
      new MissingCertificateError(['dev.example.org']),
    );
    const { store } = await start(t, covered);
    await t.rejects(store.reconfigure(uncovered), { name: 'MissingCertificateError' });
    t.equal(store.select('a.example.com')?.entry.generated, false, 'unchanged after a refused reconfigure');
    t.equal(store.select('dev.example.org'), null);
  },
);
