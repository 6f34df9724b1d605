/** Self-signed certificates made with openssl at test time (one cert that is its own trust anchor). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runChecked, type TeardownRegistrar } from '../helpers/process.js';

export interface SelfSignedCert {
  readonly dir: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** A P-256 certificate for `names` (SAN dNSName entries; wildcards allowed), removed at teardown. */
export async function makeSelfSignedCert(
  t: TeardownRegistrar,
  names: readonly string[],
): Promise<SelfSignedCert> {
  const [first] = names;
  if (first === undefined) throw new Error('makeSelfSignedCert: no names');
  const dir = await mkdtemp(join(tmpdir(), 'edge46-cert-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  await runChecked([
    'openssl',
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=${first}`,
    '-addext',
    `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`,
    '-keyout',
    keyFile,
    '-out',
    certFile,
  ]);
  return { dir, certFile, keyFile };
}
