/**
 * The AAAA cache's TTL rules, free of I/O and of the wall clock (the clock is injected), so every rule
 * is unit-tested with a fake clock:
 * - a positive answer lives for min(answer TTLs) clamped into [minTtlSeconds, maxTtlSeconds];
 * - a negative answer (NXDOMAIN, or no AAAA) lives negativeTtlSeconds;
 * - an expired positive answer is kept staleSeconds longer, to be served only when a refresh fails with
 *   a server failure or timeout (RFC 8767 "serve-stale"); an authoritative NXDOMAIN or no-AAAA answer
 *   replaces it at once;
 * - after a failed refresh the stale answer is served without asking again for failureRecheckSeconds
 *   (RFC 8767 §5 suggests 30 s), so an outage costs each new connection nothing instead of a full
 *   resolver timeout;
 * - at most maxEntries names are kept, least recently used evicted first, so a client sending random SNI
 *   names cannot grow memory without bound.
 */

export type NegativeReason = 'nxdomain' | 'nodata';

export interface PositiveEntry {
  readonly kind: 'positive';
  /** Already de-duplicated IPv6 addresses in answer order. */
  readonly addresses: readonly string[];
  /** The clamped TTL the entry was stored with. */
  readonly ttlSeconds: number;
  readonly expiresAt: number;
  readonly staleUntil: number;
  /** Until then a failed refresh is not retried and the entry is served stale (0: no failure). */
  readonly recheckAt: number;
}

export interface NegativeEntry {
  readonly kind: 'negative';
  readonly reason: NegativeReason;
  readonly ttlSeconds: number;
  readonly expiresAt: number;
}

export type CacheEntry = PositiveEntry | NegativeEntry;

export type CacheLookup =
  | { readonly state: 'fresh'; readonly entry: PositiveEntry }
  | { readonly state: 'negative'; readonly entry: NegativeEntry }
  /** Expired; a refresh recently failed, so serve it stale without asking again. */
  | { readonly state: 'stale'; readonly entry: PositiveEntry }
  /** Expired but inside its stale window: refresh, and fall back to it only if the refresh fails. */
  | { readonly state: 'expired'; readonly entry: PositiveEntry }
  | { readonly state: 'miss' };

export interface CacheOptions {
  readonly minTtlSeconds: number;
  readonly maxTtlSeconds: number;
  readonly negativeTtlSeconds: number;
  readonly staleSeconds: number;
  /** Default 10,000. */
  readonly maxEntries?: number;
  /** Default 30 (RFC 8767 §5). */
  readonly failureRecheckSeconds?: number;
  /** Milliseconds; default Date.now. */
  readonly now?: () => number;
}

const MISS: CacheLookup = Object.freeze({ state: 'miss' });

export class TtlCache {
  readonly #opts: CacheOptions;
  readonly #maxEntries: number;
  readonly #recheckMs: number;
  readonly #now: () => number;
  /** Map order is recency order: the first key is the least recently used. */
  readonly #entries = new Map<string, CacheEntry>();

  constructor(opts: CacheOptions) {
    if (!(opts.minTtlSeconds >= 0 && opts.maxTtlSeconds >= opts.minTtlSeconds)) {
      throw new Error(`cache: need 0 <= minTtlSeconds <= maxTtlSeconds`);
    }
    this.#opts = opts;
    this.#maxEntries = Math.max(1, opts.maxEntries ?? 10_000);
    this.#recheckMs = (opts.failureRecheckSeconds ?? 30) * 1000;
    this.#now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  now(): number {
    return this.#now();
  }

  /** Record TTL (seconds) → the TTL the cache uses. */
  clampTtl(ttlSeconds: number): number {
    const ttl = Number.isFinite(ttlSeconds) && ttlSeconds > 0 ? Math.floor(ttlSeconds) : 0;
    return Math.min(this.#opts.maxTtlSeconds, Math.max(this.#opts.minTtlSeconds, ttl));
  }

  lookup(name: string): CacheLookup {
    const entry = this.#entries.get(name);
    if (entry === undefined) return MISS;
    const now = this.#now();
    if (entry.kind === 'negative') {
      if (now < entry.expiresAt) return { state: 'negative', entry };
      this.#entries.delete(name);
      return MISS;
    }
    if (now < entry.expiresAt) {
      this.#touch(name, entry);
      return { state: 'fresh', entry };
    }
    if (now < entry.staleUntil) {
      this.#touch(name, entry);
      return now < entry.recheckAt ? { state: 'stale', entry } : { state: 'expired', entry };
    }
    this.#entries.delete(name);
    return MISS;
  }

  /** Stores a positive answer; its TTL is the smallest of the answers' TTLs, clamped. */
  storePositive(name: string, addresses: readonly string[], ttlsSeconds: readonly number[]): PositiveEntry {
    const ttlSeconds = this.clampTtl(ttlsSeconds.length === 0 ? 0 : Math.min(...ttlsSeconds));
    const expiresAt = this.#now() + ttlSeconds * 1000;
    const entry: PositiveEntry = {
      kind: 'positive',
      addresses: Object.freeze([...addresses]),
      ttlSeconds,
      expiresAt,
      staleUntil: expiresAt + this.#opts.staleSeconds * 1000,
      recheckAt: 0,
    };
    this.#set(name, entry);
    return entry;
  }

  /** An authoritative "no such name" / "no AAAA": replaces any entry, stale or not. */
  storeNegative(name: string, reason: NegativeReason): NegativeEntry {
    const ttlSeconds = Math.max(0, this.#opts.negativeTtlSeconds);
    const entry: NegativeEntry = {
      kind: 'negative',
      reason,
      ttlSeconds,
      expiresAt: this.#now() + ttlSeconds * 1000,
    };
    this.#set(name, entry);
    return entry;
  }

  /**
   * A refresh failed with a server failure or timeout: the expired entry, if still inside its stale
   * window, to serve instead (and not to refresh again for failureRecheckSeconds); else undefined.
   */
  refreshFailed(name: string): PositiveEntry | undefined {
    const entry = this.#entries.get(name);
    if (entry?.kind !== 'positive') return undefined;
    const now = this.#now();
    if (now >= entry.staleUntil) return undefined;
    if (now < entry.expiresAt) return entry; // another refresh raced ahead and stored a fresh answer
    const marked: PositiveEntry = { ...entry, recheckAt: Math.min(now + this.#recheckMs, entry.staleUntil) };
    this.#entries.set(name, marked);
    return marked;
  }

  delete(name: string): void {
    this.#entries.delete(name);
  }

  clear(): void {
    this.#entries.clear();
  }

  /** Every entry, least recently used first (expired ones included until looked up or evicted). */
  entries(): IterableIterator<[string, CacheEntry]> {
    return this.#entries.entries();
  }

  #touch(name: string, entry: CacheEntry): void {
    this.#entries.delete(name);
    this.#entries.set(name, entry);
  }

  #set(name: string, entry: CacheEntry): void {
    this.#entries.delete(name);
    while (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
    this.#entries.set(name, entry);
  }
}
