/**
 * `edge46 --check` on the built entry point: certificate pairs whose key does not match, that are
 * expired or not yet valid, an uncovered default and (requireCertificates) uncovered terminate routes
 * are reported with their path, exit 1; good pairs pass.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { tlsFixtures as f } from './rig.js';

const MAIN = fileURLToPath(new URL('../../../dist/src/main.js', import.meta.url));
const skip = existsSync(MAIN) ? false : 'dist/ is not built: run `npm run build` (npm test does)';

function check(file: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [MAIN, '--check', '--config', file],
      { env: { ...process.env, NODE_OPTIONS: '' } },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function configFile(t: Test, config: object): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'edge46-check-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'edge46.json');
  await writeFile(file, JSON.stringify(config));
  return file;
}

const listeners = [{ name: 'tls', address: '127.0.0.1:8443', protocol: 'tls' }];

t.test('--check passes good pairs', { skip }, async (t) => {
  const file = await configFile(t, {
    listeners,
    tls: { certificates: [f.files('exact'), f.files('default')], defaultCertificate: 'default.example.net' },
    routes: [{ host: 'a.example.com', target: '{host}', tls: 'terminate' }],
  });
  const r = await check(file);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /OK/);
});

t.test('--check reports mismatched and expired pairs, with their paths', { skip }, async (t) => {
  const file = await configFile(t, {
    listeners,
    tls: {
      certificates: [
        f.files('exact'),
        { certFile: f.files('exact').certFile, keyFile: f.files('exact2').keyFile },
        f.files('expired'),
        f.files('future'),
      ],
      defaultCertificate: 'expired.example.com',
      requireCertificates: true,
    },
    routes: [
      { host: 'a.example.com', target: '{host}', tls: 'terminate' },
      { host: 'expired.example.com', target: '{host}', tls: 'terminate' },
    ],
  });
  const r = await check(file);
  t.equal(r.code, 1);
  t.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  t.match(lines[0], /5 problem\(s\)/);
  t.same(lines.slice(1), [
    `tls.certificates[1]: ${f.files('exact').certFile}: key does not match the certificate`,
    `tls.certificates[2]: ${f.files('expired').certFile}: expired on 2001-01-01T00:00:00.000Z`,
    `tls.certificates[3]: ${f.files('future').certFile}: not valid before 2099-01-01T00:00:00.000Z`,
    'tls.defaultCertificate: no valid certificate covers "expired.example.com"',
    'routes[1].host: no valid certificate covers "expired.example.com" (tls.requireCertificates)',
  ]);
});
