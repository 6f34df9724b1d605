/**
 * Finds certificate/key pairs in `tls.certificateDir`: NAME.crt next to NAME.key, and subfolders
 * holding tls.crt + tls.key (a Kubernetes TLS secret mounted as a volume). Dot entries are skipped
 * (a secret volume's `..data` and timestamped folders are its internals).
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CertificateFiles } from './certificate.js';

export interface DirScan {
  readonly pairs: readonly CertificateFiles[];
  /** The directory and its subfolders (what to watch: a pair may appear in any of them). */
  readonly dirs: readonly string[];
  /** Set when the directory itself cannot be read. */
  readonly problem?: string;
}

export async function scanCertificateDir(dir: string): Promise<DirScan> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (err) {
    return {
      pairs: [],
      dirs: [],
      problem: `cannot read ${dir}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    };
  }
  const pairs: CertificateFiles[] = [];
  const dirs = [dir];
  const present = new Set(names);
  for (const name of names) {
    if (name.startsWith('.')) continue;
    if (name.endsWith('.crt')) {
      const key = `${name.slice(0, -4)}.key`;
      if (present.has(key)) pairs.push({ certFile: join(dir, name), keyFile: join(dir, key) });
      continue;
    }
    const sub = join(dir, name);
    // stat, not lstat: a mounted secret's folder may itself be a symlink.
    const info = await stat(sub).catch(() => null);
    if (info === null || !info.isDirectory()) continue;
    dirs.push(sub);
    const inner = await readdir(sub).catch(() => [] as string[]);
    if (inner.includes('tls.crt') && inner.includes('tls.key')) {
      pairs.push({ certFile: join(sub, 'tls.crt'), keyFile: join(sub, 'tls.key') });
    }
  }
  return { pairs, dirs };
}
