/**
 * `--check` beyond the schema: the files the config names. Certificate pairs must parse, their key must
 * match and they must be valid now; `tls.defaultCertificate` and (with requireCertificates) every
 * terminate route must be covered; `upstreamCa` files must hold certificates. validateConfig stays
 * synchronous and file-free; this runs after it.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { scanCertificateDir } from '../tls/cert-dir.js';
import { readCertificatePair, validityProblem, type ParsedCertificate } from '../tls/certificate.js';
import { CertificateIndex, certificateCoversPattern } from '../tls/select.js';
import type { ConfigProblem } from './load.js';
import type { Config } from './schema.js';

export async function checkFiles(config: Config, now = Date.now()): Promise<ConfigProblem[]> {
  const problems: ConfigProblem[] = [];
  const usable: ParsedCertificate[] = [];
  const checkPair = async (path: string, files: { certFile: string; keyFile: string }): Promise<void> => {
    const result = await readCertificatePair(files);
    if (!result.ok) {
      problems.push({ path, message: `${files.certFile}: ${result.reason}` });
      return;
    }
    const invalid = validityProblem(result.cert, now);
    if (invalid !== null) problems.push({ path, message: `${files.certFile}: ${invalid}` });
    else usable.push(result.cert);
    if (result.cert.names.length === 0)
      problems.push({ path, message: `${files.certFile}: no DNS names in subjectAltName` });
  };

  const tls = config.tls;
  for (const [i, files] of tls.certificates.entries()) await checkPair(`tls.certificates[${i}]`, files);
  if (tls.certificateDir !== undefined) {
    const scan = await scanCertificateDir(tls.certificateDir);
    if (scan.problem !== undefined) problems.push({ path: 'tls.certificateDir', message: scan.problem });
    for (const files of scan.pairs) await checkPair('tls.certificateDir', files);
  }

  const entries = usable.map((c) => ({ ...c, generated: false }));
  const index = new CertificateIndex(entries, { now });
  const defaultName = tls.defaultCertificate;
  const hasDefault = defaultName !== undefined && index.lookup(defaultName.toLowerCase()) !== null;
  if (defaultName !== undefined && !hasDefault) {
    problems.push({
      path: 'tls.defaultCertificate',
      message: `no valid certificate covers "${defaultName}"`,
    });
  }
  for (const [i, route] of config.routes.entries()) {
    if (route.tls === 'terminate' && tls.requireCertificates) {
      const pattern = route.host.toLowerCase();
      const covered =
        pattern === '*' ? hasDefault : entries.some((e) => certificateCoversPattern(e.names, pattern));
      if (!covered) {
        problems.push({
          path: `routes[${i}].host`,
          message: `no valid certificate covers "${route.host}" (tls.requireCertificates)`,
        });
      }
    }
    if (route.upstreamCa !== undefined) {
      const message = await caFileProblem(route.upstreamCa);
      if (message !== null) problems.push({ path: `routes[${i}].upstreamCa`, message });
    }
  }
  return problems;
}

async function caFileProblem(file: string): Promise<string | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`;
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) return `${file}: no PEM certificate in it`;
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch {
      return `${file}: a certificate in it does not parse`;
    }
  }
  return null;
}
