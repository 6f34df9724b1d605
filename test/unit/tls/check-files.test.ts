import t from 'tap';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkFiles } from '../../../src/config/check-files.js';
import { validateConfig } from '../../../src/config/load.js';
import type { Config, ConfigInput } from '../../../src/config/schema.js';
import { tlsFixtures as f } from './fixtures.js';

function config(input: Partial<ConfigInput>): Config {
  const result = validateConfig({
    listeners: [{ name: 'tls', address: '127.0.0.1:0', protocol: 'tls' }],
    ...input,
  });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.config;
}

t.test('good pairs, a covered default and a CA file: no problems', async (t) => {
  const cfg = config({
    tls: {
      certificates: [f.files('exact'), f.files('default')],
      defaultCertificate: 'default.example.net',
      requireCertificates: true,
    },
    routes: [
      { host: 'a.example.com', target: '{host}', tls: 'terminate', upstream: 'https', upstreamCa: f.caFile },
      { host: '*', target: '{host}', tls: 'terminate' },
    ],
  });
  t.same(await checkFiles(cfg), []);
});

t.test('mismatched, expired, not yet valid and unreadable pairs are reported with their path', async (t) => {
  const cfg = config({
    tls: {
      certificates: [
        f.files('exact'),
        { certFile: f.files('exact').certFile, keyFile: f.files('wildcard').keyFile },
        f.files('expired'),
        f.files('future'),
        { certFile: '/nonexistent.crt', keyFile: '/nonexistent.key' },
      ],
    },
  });
  t.same(await checkFiles(cfg), [
    {
      path: 'tls.certificates[1]',
      message: `${f.files('exact').certFile}: key does not match the certificate`,
    },
    {
      path: 'tls.certificates[2]',
      message: `${f.files('expired').certFile}: expired on 2001-01-01T00:00:00.000Z`,
    },
    {
      path: 'tls.certificates[3]',
      message: `${f.files('future').certFile}: not valid before 2099-01-01T00:00:00.000Z`,
    },
    { path: 'tls.certificates[4]', message: '/nonexistent.crt: cannot read /nonexistent.crt: ENOENT' },
  ]);
});

t.test('certificateDir pairs are checked too; a missing directory is a problem', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'edge46-check-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await copyFile(f.files('expired').certFile, join(dir, 'old.crt'));
  await copyFile(f.files('expired').keyFile, join(dir, 'old.key'));
  await copyFile(f.files('wildcard').certFile, join(dir, 'wild.crt'));
  await copyFile(f.files('exact').keyFile, join(dir, 'wild.key'));
  t.same(await checkFiles(config({ tls: { certificateDir: dir } })), [
    { path: 'tls.certificateDir', message: `${join(dir, 'old.crt')}: expired on 2001-01-01T00:00:00.000Z` },
    { path: 'tls.certificateDir', message: `${join(dir, 'wild.crt')}: key does not match the certificate` },
  ]);
  t.same(await checkFiles(config({ tls: { certificateDir: join(dir, 'nope') } })), [
    { path: 'tls.certificateDir', message: `cannot read ${join(dir, 'nope')}: ENOENT` },
  ]);
});

t.test('uncovered default, uncovered terminate routes (requireCertificates), bad CA files', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'edge46-check-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const garbage = join(dir, 'garbage.pem');
  await writeFile(garbage, 'hello\n');
  const broken = join(dir, 'broken.pem');
  await writeFile(broken, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  const cfg = config({
    tls: {
      certificates: [f.files('exact'), f.files('expired')],
      defaultCertificate: 'nothing.example',
      requireCertificates: true,
    },
    routes: [
      { host: 'a.example.com', target: '{host}', tls: 'terminate' },
      { host: 'expired.example.com', target: '{host}', tls: 'terminate' },
      { host: '*.example.com', target: '{host}', tls: 'terminate' },
      { host: '*', target: '{host}', tls: 'terminate' },
      { host: 'x.example', target: '{host}', upstream: 'https', upstreamCa: garbage },
      { host: 'y.example', target: '{host}', upstream: 'https', upstreamCa: broken },
      { host: 'z.example', target: '{host}', upstream: 'https', upstreamCa: join(dir, 'missing.pem') },
    ],
  });
  t.same(await checkFiles(cfg), [
    {
      path: 'tls.certificates[1]',
      message: `${f.files('expired').certFile}: expired on 2001-01-01T00:00:00.000Z`,
    },
    { path: 'tls.defaultCertificate', message: 'no valid certificate covers "nothing.example"' },
    {
      path: 'routes[1].host',
      message: 'no valid certificate covers "expired.example.com" (tls.requireCertificates)',
    },
    {
      path: 'routes[2].host',
      message: 'no valid certificate covers "*.example.com" (tls.requireCertificates)',
    },
    { path: 'routes[3].host', message: 'no valid certificate covers "*" (tls.requireCertificates)' },
    { path: 'routes[4].upstreamCa', message: `${garbage}: no PEM certificate in it` },
    { path: 'routes[5].upstreamCa', message: `${broken}: a certificate in it does not parse` },
    { path: 'routes[6].upstreamCa', message: `cannot read ${join(dir, 'missing.pem')}: ENOENT` },
  ]);
});

t.test('schema and cross-field rules of the tls keys', async (t) => {
  const problems = (input: Partial<ConfigInput>): unknown => {
    const r = validateConfig({
      listeners: [{ name: 'tls', address: '127.0.0.1:0', protocol: 'tls' }],
      ...input,
    });
    return r.ok ? [] : r.problems;
  };
  t.same(problems({ tls: { defaultCertificate: 'bad name!' } }), [
    { path: 'tls.defaultCertificate', message: '"bad name!": not a valid LDH label' },
  ]);
  t.same(
    problems({
      routes: [
        { host: 'a.example', target: '{host}', upstreamCa: '/ca.pem' },
        { host: 'b.example', target: '{host}', upstreamInsecure: true },
        {
          host: 'c.example',
          target: '{host}',
          upstream: 'https',
          upstreamInsecure: true,
          upstreamCa: '/ca.pem',
        },
        {
          host: 'd.example',
          target: '{host}',
          tls: 'terminate',
          proxyProtocol: 'v2',
          sourceNat46Prefix: '64:ff9b:1::/96',
        },
      ],
    }),
    [
      { path: 'routes[0].upstreamCa', message: 'needs upstream: https' },
      { path: 'routes[1].upstreamInsecure', message: 'needs upstream: https' },
      {
        path: 'routes[2].upstreamInsecure',
        message: 'contradicts upstreamCa (verification off, but a CA given)',
      },
      { path: 'routes[3].proxyProtocol', message: 'not supported on terminate routes yet' },
      { path: 'routes[3].sourceNat46Prefix', message: 'not supported on terminate routes yet' },
    ],
  );
  t.match(problems({ tls: { certFile: 'x' } as never }), [{ path: 'tls.certFile', message: /unknown key/ }]);
  t.match(problems({ routes: [{ host: 'a.example', target: '{host}', tls: 'offload' as never }] }), [
    { path: 'routes[0].tls' },
  ]);
  const ok = validateConfig({ listeners: [{ name: 'tls', address: '127.0.0.1:0', protocol: 'tls' }] });
  t.ok(ok.ok);
  if (ok.ok)
    t.same(ok.config.tls, { certificates: [], requireCertificates: false, ticketKeyRotationSeconds: 3600 });
});
