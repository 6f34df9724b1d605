/**
 * The AAAA-only resolver: node's c-ares Resolver (never getaddrinfo, never an A query), the TTL cache
 * of cache.ts, one in-flight query per name, and the address policy applied to every answer.
 *
 * c-ares answers as seen on this machine (notes/testbed.md): NXDOMAIN → ENOTFOUND; a name without AAAA
 * → ENODATA; a CNAME whose target has no AAAA → an empty list (treated as no data); ETIMEOUT when
 * every attempt timed out.
 */
import { Resolver as DnsResolver } from 'node:dns/promises';
import { isIPv4, isIPv6 } from 'node:net';
import { errnoCode, ProxyError } from '../errors.js';
import type { AddressPolicy } from './address-policy.js';
import { canonicalAddress } from './address-policy.js';
import type { NegativeReason, PositiveEntry } from './cache.js';
import { TtlCache } from './cache.js';

export interface ResolverOptions {
  /** "[2001:db8::53]:53", "2001:db8::53", "127.0.0.1:5353"; default: the system's resolvers. */
  readonly servers?: readonly string[];
  /** Per attempt, milliseconds. */
  readonly timeoutMs: number;
  readonly attempts: number;
  readonly minTtlSeconds: number;
  readonly maxTtlSeconds: number;
  readonly negativeTtlSeconds: number;
  readonly staleSeconds: number;
  /** Answers beyond this many are dropped (default 16). */
  readonly maxAddresses?: number;
  /** Names cached at most (default 10,000). */
  readonly maxEntries?: number;
}

/** Where an answer came from: fresh cache hit, a query, a stale entry while servers fail, negative cache. */
export type LookupSource = 'hit' | 'miss' | 'stale' | 'negative';

export interface Resolution {
  readonly name: string;
  /** Allowed addresses only, in answer order; never empty. */
  readonly addresses: readonly string[];
  /** Seconds the answer stays fresh (0 for a stale answer). */
  readonly ttlSeconds: number;
  readonly source: LookupSource;
}

export interface AaaaAnswer {
  readonly address: string;
  readonly ttl: number;
}

export interface ResolverDeps {
  /** Milliseconds; default Date.now. */
  readonly now?: () => number;
  /** Replaces the c-ares query (unit tests only). Must reject with an errno-style `code` like c-ares. */
  readonly query?: (name: string) => Promise<readonly AaaaAnswer[]>;
  /**
   * Called once per resolve(): the answer's source, 'negative' for a negative-cache hit, 'error' when
   * no cached data could answer and the query failed (NXDOMAIN, no AAAA, timeout, server failure).
   * A policy refusal after a successful lookup reports the lookup's source.
   */
  readonly onLookup?: (result: LookupSource | 'error') => void;
}

export interface CacheSnapshotEntry {
  name: string;
  addresses: string[];
  ttlLeftSeconds: number;
  stale: boolean;
  negative: boolean;
}

interface Fetched {
  readonly entry: PositiveEntry;
  readonly source: 'miss' | 'stale';
}

export class AaaaResolver {
  readonly #cache: TtlCache;
  readonly #query: (name: string) => Promise<readonly AaaaAnswer[]>;
  readonly #dns: DnsResolver | null = null;
  readonly #serversText: string;
  readonly #maxAddresses: number;
  readonly #onLookup: ((result: LookupSource | 'error') => void) | undefined;
  readonly #inflight = new Map<string, Promise<Fetched>>();
  #closed = false;

  constructor(opts: ResolverOptions, deps: ResolverDeps = {}) {
    if (!(opts.timeoutMs > 0) || !(opts.attempts >= 1))
      throw new Error('resolver: timeoutMs > 0 and attempts >= 1');
    this.#cache = new TtlCache({ ...opts, ...(deps.now === undefined ? {} : { now: deps.now }) });
    this.#maxAddresses = Math.max(1, opts.maxAddresses ?? 16);
    this.#onLookup = deps.onLookup;
    if (deps.query !== undefined) {
      this.#query = deps.query;
      this.#serversText = opts.servers?.join(', ') ?? 'system resolvers';
    } else {
      const dns = new DnsResolver({ timeout: opts.timeoutMs, tries: opts.attempts });
      if (opts.servers !== undefined && opts.servers.length > 0) {
        try {
          dns.setServers([...opts.servers]);
        } catch (err) {
          throw new Error(`resolver.servers: ${JSON.stringify(opts.servers)} is not a valid server list`, {
            cause: err,
          });
        }
      }
      this.#dns = dns;
      this.#query = (name) => dns.resolve6(name, { ttl: true });
      this.#serversText = dns.getServers().join(', ') || 'system resolvers (none configured)';
    }
  }

  /** Rejects with a ProxyError: EDGE_RESOLVE_{NXDOMAIN,NODATA,TIMEOUT,FAILED} or EDGE_BLOCKED_ADDRESS. */
  async resolve(name: string, policy: AddressPolicy): Promise<Resolution> {
    const key = name.toLowerCase().replace(/\.$/, '');
    if (this.#closed) throw new ProxyError('EDGE_RESOLVE_FAILED', `AAAA lookup for ${key}: resolver closed`);
    const cached = this.#cache.lookup(key);
    let fetched: Fetched;
    switch (cached.state) {
      case 'fresh':
        return this.#allowed(key, cached.entry, 'hit', policy);
      case 'stale':
        return this.#allowed(key, cached.entry, 'stale', policy);
      case 'negative':
        this.#onLookup?.('negative');
        throw this.#negativeError(key, cached.entry.reason, undefined);
      default:
        try {
          fetched = await this.#singleFlight(key);
        } catch (err) {
          this.#onLookup?.('error');
          throw err;
        }
        return this.#allowed(key, fetched.entry, fetched.source, policy);
    }
  }

  /** The cache, for the admin /routes page. */
  snapshot(): CacheSnapshotEntry[] {
    const now = this.#cache.now();
    const out: CacheSnapshotEntry[] = [];
    for (const [name, entry] of this.#cache.entries()) {
      const negative = entry.kind === 'negative';
      // Entries past all use stay until looked up or evicted; they are not worth showing.
      if (now >= (negative ? entry.expiresAt : entry.staleUntil)) continue;
      out.push({
        name,
        addresses: negative ? [] : [...entry.addresses],
        ttlLeftSeconds: Math.max(0, Math.ceil((entry.expiresAt - now) / 1000)),
        stale: now >= entry.expiresAt,
        negative,
      });
    }
    return out;
  }

  /** Cancels in-flight queries (they reject with EDGE_RESOLVE_FAILED); later resolves reject. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#dns?.cancel();
  }

  #singleFlight(key: string): Promise<Fetched> {
    let flight = this.#inflight.get(key);
    if (flight === undefined) {
      const started = this.#fetch(key).finally(() => {
        if (this.#inflight.get(key) === started) this.#inflight.delete(key);
      });
      flight = started;
      this.#inflight.set(key, flight);
    }
    return flight;
  }

  async #fetch(key: string): Promise<Fetched> {
    let answers: readonly AaaaAnswer[];
    try {
      answers = await this.#query(key);
    } catch (err) {
      const code = errnoCode(err);
      if (this.#closed) {
        throw new ProxyError('EDGE_RESOLVE_FAILED', `AAAA lookup for ${key}: resolver closed`, err);
      }
      if (code === 'ENOTFOUND' || code === 'ENODATA') {
        const reason: NegativeReason = code === 'ENOTFOUND' ? 'nxdomain' : 'nodata';
        this.#cache.storeNegative(key, reason);
        throw this.#negativeError(key, reason, err);
      }
      const stale = this.#cache.refreshFailed(key);
      if (stale !== undefined) return { entry: stale, source: 'stale' };
      const what = `AAAA lookup for ${key} via ${this.#serversText}`;
      if (code === 'ETIMEOUT') throw new ProxyError('EDGE_RESOLVE_TIMEOUT', `${what} timed out`, err);
      throw new ProxyError('EDGE_RESOLVE_FAILED', `${what} failed: ${code ?? String(err)}`, err);
    }
    const { addresses, ttls } = this.#sanitize(answers);
    if (addresses.length === 0) {
      this.#cache.storeNegative(key, 'nodata');
      throw this.#negativeError(key, 'nodata', undefined);
    }
    return { entry: this.#cache.storePositive(key, addresses, ttls), source: 'miss' };
  }

  /** Hostile or odd answers: non-IPv6 ignored, duplicates removed, at most maxAddresses kept. */
  #sanitize(answers: readonly AaaaAnswer[]): { addresses: string[]; ttls: number[] } {
    const seen = new Set<string>();
    const ttls: number[] = [];
    for (const answer of answers) {
      if (seen.size >= this.#maxAddresses) break;
      const raw = typeof answer.address === 'string' ? answer.address : '';
      if (!isIPv6(raw) || isIPv4(raw) || raw.includes('%')) continue;
      const address = canonicalAddress(raw);
      if (address === null) continue;
      ttls.push(answer.ttl); // a duplicate's TTL still counts: the RRset lives as long as its shortest TTL
      seen.add(address);
    }
    return { addresses: [...seen], ttls };
  }

  #allowed(key: string, entry: PositiveEntry, source: LookupSource, policy: AddressPolicy): Resolution {
    this.#onLookup?.(source);
    const allowed: string[] = [];
    const refused: string[] = [];
    for (const address of entry.addresses) {
      const verdict = policy.check(address);
      if (verdict.allowed) allowed.push(address);
      else refused.push(`${address} (${verdict.reason})`);
    }
    if (allowed.length === 0) {
      throw new ProxyError(
        'EDGE_BLOCKED_ADDRESS',
        `no allowed AAAA address for ${key}: ${refused.join(', ')}`,
      );
    }
    const ttlLeftMs = entry.expiresAt - this.#cache.now();
    return {
      name: key,
      addresses: allowed,
      ttlSeconds: source === 'stale' ? 0 : Math.max(0, Math.ceil(ttlLeftMs / 1000)),
      source,
    };
  }

  #negativeError(key: string, reason: NegativeReason, cause: unknown): ProxyError {
    return reason === 'nxdomain'
      ? new ProxyError(
          'EDGE_RESOLVE_NXDOMAIN',
          `AAAA lookup for ${key} via ${this.#serversText}: no such name`,
          cause,
        )
      : new ProxyError(
          'EDGE_RESOLVE_NODATA',
          `AAAA lookup for ${key} via ${this.#serversText}: no AAAA record`,
          cause,
        );
  }
}
