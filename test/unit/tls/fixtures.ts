/** Paths and contents of the committed TLS termination fixtures (test/fixtures/tls/make.sh). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../../fixtures/tls/', import.meta.url));

export type FixtureName = 'exact' | 'exact2' | 'wildcard' | 'default' | 'expired' | 'future';

export const tlsFixtures = {
  dir,
  caFile: `${dir}ca.crt`,
  ca: readFileSync(`${dir}ca.crt`, 'utf8'),
  files: (name: FixtureName) => ({ certFile: `${dir}${name}.crt`, keyFile: `${dir}${name}.key` }),
  cert: (name: FixtureName) => readFileSync(`${dir}${name}.crt`, 'utf8'),
  key: (name: FixtureName) => readFileSync(`${dir}${name}.key`, 'utf8'),
};
