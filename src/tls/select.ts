/**
 * Certificate selection per SNI, pure: the exact SAN name first, then a wildcard SAN covering exactly
 * one label (RFC 6125 §6.4.3: "*" only as the whole left-most label, matching one label, never the
 * bare parent), then the configured default. Built once per certificate set; a lookup is two map reads.
 */

/** What selection needs to know about a certificate. */
export interface Selectable {
  readonly names: readonly string[];
  readonly notBefore: number;
  readonly notAfter: number;
  /** Generated at start-up (self-signed): any loaded certificate for the same name wins over it. */
  readonly generated: boolean;
}

export type SelectionMatch = 'exact' | 'wildcard' | 'default';

export interface Selection<T> {
  readonly entry: T;
  readonly match: SelectionMatch;
}

export class CertificateIndex<T extends Selectable> {
  private readonly exact = new Map<string, T>();
  /** Keyed by the parent domain: "*.example.com" → "example.com". */
  private readonly wildcard = new Map<string, T>();
  readonly defaultEntry: T | null;

  /**
   * When several certificates carry the same name, a loaded one beats a generated one, one valid at
   * `now` beats an expired or not-yet-valid one, and then the one that expires last wins.
   * `defaultName` picks the default the same way a client naming it would; `fallback` is used when
   * there is no configured default (or nothing covers it).
   */
  constructor(entries: readonly T[], opts: { now: number; defaultName?: string; fallback?: T | null }) {
    const better = (a: T, b: T | undefined): boolean =>
      b === undefined || rank(a, opts.now) > rank(b, opts.now);
    for (const entry of entries) {
      for (const name of entry.names) {
        if (name.startsWith('*.')) {
          const parent = name.slice(2);
          if (better(entry, this.wildcard.get(parent))) this.wildcard.set(parent, entry);
        } else if (!name.includes('*')) {
          if (better(entry, this.exact.get(name))) this.exact.set(name, entry);
        }
      }
    }
    const named = opts.defaultName === undefined ? null : this.lookup(opts.defaultName.toLowerCase());
    this.defaultEntry = named?.entry ?? opts.fallback ?? null;
  }

  /** `name` must be a normalised host name (lowercase, no trailing dot); null: no SNI. */
  select(name: string | null): Selection<T> | null {
    const found = name === null ? null : this.lookup(name);
    if (found !== null) return found;
    return this.defaultEntry === null ? null : { entry: this.defaultEntry, match: 'default' };
  }

  /** Exact or wildcard SAN only (no default): the certificate that really covers `name`. */
  lookup(name: string): Selection<T> | null {
    const exact = this.exact.get(name);
    if (exact !== undefined) return { entry: exact, match: 'exact' };
    const dot = name.indexOf('.');
    if (dot > 0) {
      const wildcard = this.wildcard.get(name.slice(dot + 1));
      if (wildcard !== undefined) return { entry: wildcard, match: 'wildcard' };
    }
    return null;
  }
}

/** Whether a certificate with SAN `names` is valid for `host` (RFC 6125 §6.4.3, one-label wildcards). */
export function certificateCovers(names: readonly string[], host: string): boolean {
  const dot = host.indexOf('.');
  const wildcard = dot > 0 ? `*.${host.slice(dot + 1)}` : null;
  return names.some((n) => n === host || n === wildcard);
}

/**
 * Whether a certificate can serve every name a route host pattern admits: an exact pattern needs its
 * name covered; "*.suffix" needs the SAN "*.suffix" itself (which covers one label, the common case;
 * deeper names fall through to the default); "*" is never covered by any one certificate.
 */
export function certificateCoversPattern(names: readonly string[], pattern: string): boolean {
  if (pattern === '*') return false;
  if (pattern.startsWith('*.')) return names.includes(pattern);
  return certificateCovers(names, pattern);
}

function rank(entry: Selectable, now: number): number {
  const valid = now >= entry.notBefore && now <= entry.notAfter;
  // notAfter is below 2^43 ms for any date before year 2248, so the flags sit above it.
  return (
    (entry.generated ? 0 : 2 ** 45) + (valid ? 2 ** 44 : 0) + Math.max(0, Math.min(entry.notAfter, 2 ** 43))
  );
}
