/**
 * The certificates terminate routes are served with: the configured pairs and those found in
 * `tls.certificateDir`, each with its own SecureContext (all sharing the session ticket keys), indexed
 * by SAN name (select.ts), plus self-signed stand-ins for terminate routes nothing covers.
 *
 * A reload re-reads every pair: an unchanged pair keeps its context, a changed valid one replaces it,
 * an invalid one is logged and the previous one stays. The index is swapped in one assignment: new
 * handshakes see the new certificate, open connections keep the context they started with.
 */
import { EventEmitter } from 'node:events';
import { dirname } from 'node:path';
import type { SecureContext } from 'node:tls';
import type { Config, RouteConfig } from '../config/schema.js';
import type { TlsConfig } from '../config/tls-schema.js';
import type { Logger } from '../observe/logger.js';
import { scanCertificateDir } from './cert-dir.js';
import {
  pairDigest,
  parseCertificatePair,
  readPairText,
  validityProblem,
  type CertificateFiles,
  type ParsedCertificate,
} from './certificate.js';
import { CertificateIndex, certificateCoversPattern, type Selectable, type Selection } from './select.js';
import { generateSelfSigned } from './self-signed.js';
import { createServerContext } from './server-context.js';
import { TicketKeys } from './ticket-keys.js';
import { DirectoryWatcher } from './watch.js';

export interface StoredCertificate extends Selectable {
  /** The certificate file, or "self-signed:<route host>" for a generated one. */
  readonly source: string;
  readonly files: CertificateFiles | null;
  readonly parsed: ParsedCertificate;
  readonly context: SecureContext;
  readonly digest: string;
}

/** One certificate as the admin server and logs show it. */
export interface CertificateInfo {
  readonly source: string;
  readonly names: readonly string[];
  readonly notBefore: string;
  readonly notAfter: string;
  readonly fingerprint: string;
  readonly generated: boolean;
  readonly default: boolean;
  /** "expired on …" / "not valid before …"; null when valid now. */
  readonly problem: string | null;
}

export interface CertificateReload {
  readonly loaded: readonly string[];
  readonly rejected: readonly { readonly file: string; readonly reason: string }[];
  readonly removed: readonly string[];
  readonly unchanged: number;
}

export interface CertificateStoreOptions {
  readonly log: Logger;
  /** Clock for validity decisions (tests). */
  readonly now?: () => number;
  /** Quiet time after the last file event before a reload; default 200 ms. */
  readonly debounceMs?: number;
  /** Secret the session ticket keys derive from; processes sharing it resume each other's tickets. */
  readonly ticketSeed?: Buffer;
}

/** Thrown at start (and on a config reload) when requireCertificates forbids a self-signed stand-in. */
export class MissingCertificateError extends Error {
  constructor(readonly hosts: readonly string[]) {
    super(`no certificate covers terminate route(s) ${hosts.join(', ')} and tls.requireCertificates is true`);
    this.name = 'MissingCertificateError';
  }
}

export class CertificateStore extends EventEmitter {
  private index: CertificateIndex<StoredCertificate>;
  private loaded = new Map<string, StoredCertificate>();
  /** Self-signed stand-ins by route host pattern ("*" for the catch-all default); kept across reloads. */
  private generated = new Map<string, StoredCertificate>();
  private tls: TlsConfig;
  private routes: readonly RouteConfig[];
  private readonly tickets: TicketKeys;
  private readonly watcher: DirectoryWatcher;
  private readonly log: Logger;
  private readonly now: () => number;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(config: Config, opts: CertificateStoreOptions) {
    super();
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.tls = config.tls;
    this.routes = config.routes;
    this.tickets = new TicketKeys(config.tls.ticketKeyRotationSeconds * 1000, {
      now: this.now,
      ...(opts.ticketSeed === undefined ? {} : { seed: opts.ticketSeed }),
    });
    this.index = new CertificateIndex<StoredCertificate>([], { now: this.now() });
    this.watcher = new DirectoryWatcher(() => void this.reload().catch(() => undefined), {
      debounceMs: opts.debounceMs ?? 200,
      log: opts.log,
    });
  }

  /** Loads every pair, makes the self-signed stand-ins that are needed (or throws), starts watching. */
  static async start(config: Config, opts: CertificateStoreOptions): Promise<CertificateStore> {
    const store = new CertificateStore(config, opts);
    try {
      await store.reconfigure(config);
    } catch (err) {
      store.close();
      throw err;
    }
    store.tickets.start();
    return store;
  }

  /** The certificate for a handshake naming `name` (null: no SNI); null when nothing can serve it. */
  select(name: string | null): Selection<StoredCertificate> | null {
    return this.index.select(name);
  }

  /** Applies a new config's tls section and routes; rejects (changing nothing) on MissingCertificateError. */
  reconfigure(config: Config): Promise<CertificateReload> {
    return this.serialised(async () => {
      const summary = await this.load(config.tls, config.routes);
      this.tls = config.tls;
      this.routes = config.routes;
      return summary;
    });
  }

  /** Re-reads the certificate files (the watcher calls this). */
  reload(): Promise<CertificateReload> {
    return this.serialised(() => this.load(this.tls, this.routes));
  }

  describe(): CertificateInfo[] {
    const now = this.now();
    const entries = [...this.loaded.values(), ...this.generated.values()];
    return entries.map((e) => ({
      source: e.source,
      names: e.names,
      notBefore: new Date(e.notBefore).toISOString(),
      notAfter: new Date(e.notAfter).toISOString(),
      fingerprint: e.parsed.fingerprint,
      generated: e.generated,
      default: e === this.index.defaultEntry,
      problem: validityProblem(e.parsed, now),
    }));
  }

  /** Directories currently watched (tests, admin). */
  get watching(): readonly string[] {
    return this.watcher.watching;
  }

  /** The shared session ticket keys (tests rotate them by hand). */
  get ticketKeys(): TicketKeys {
    return this.tickets;
  }

  close(): void {
    this.watcher.close();
    this.tickets.close();
  }

  private serialised<T>(run: () => Promise<T>): Promise<T> {
    const next = this.queue.then(run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async load(tls: TlsConfig, routes: readonly RouteConfig[]): Promise<CertificateReload> {
    const { sources, dirs, keepUnder } = await this.sources(tls);
    const loaded = new Map<string, StoredCertificate>();
    const summary = {
      loaded: [] as string[],
      rejected: [] as { file: string; reason: string }[],
      unchanged: 0,
    };
    const sessionTimeoutSeconds = tls.ticketKeyRotationSeconds;
    for (const files of sources) {
      const key = sourceKey(files);
      if (loaded.has(key)) continue;
      const previous = this.loaded.get(key);
      const entry = await this.loadPair(files, previous, sessionTimeoutSeconds, summary);
      if (entry !== null) loaded.set(key, entry);
    }
    // A directory that cannot be read right now (being replaced) keeps what was loaded from it.
    for (const [key, entry] of this.loaded) {
      if (!loaded.has(key) && keepUnder !== null && entry.source.startsWith(keepUnder))
        loaded.set(key, entry);
    }
    const removed = [...this.loaded.keys()].filter((k) => !loaded.has(k)).map((k) => k.split('\n')[0] ?? k);
    for (const file of removed) this.log.info({ file }, 'certificate removed');

    const generated = await this.standIns([...loaded.values()], tls, routes, sessionTimeoutSeconds);
    this.loaded = loaded;
    this.generated = generated;
    this.index = new CertificateIndex([...loaded.values(), ...generated.values()], {
      now: this.now(),
      ...(tls.defaultCertificate === undefined ? {} : { defaultName: tls.defaultCertificate }),
      fallback: generated.get('*') ?? null,
    });
    if (
      tls.defaultCertificate !== undefined &&
      this.index.lookup(tls.defaultCertificate.toLowerCase()) === null
    ) {
      this.log.warn(
        { defaultCertificate: tls.defaultCertificate },
        'no certificate covers tls.defaultCertificate',
      );
    }
    this.watcher.watch(dirs);
    const result: CertificateReload = { ...summary, removed };
    this.emit('reload', result);
    return result;
  }

  private async sources(
    tls: TlsConfig,
  ): Promise<{ sources: CertificateFiles[]; dirs: Set<string>; keepUnder: string | null }> {
    const sources: CertificateFiles[] = [...tls.certificates];
    const dirs = new Set<string>();
    for (const f of tls.certificates) {
      dirs.add(dirname(f.certFile));
      dirs.add(dirname(f.keyFile));
    }
    let keepUnder: string | null = null;
    if (tls.certificateDir !== undefined) {
      const scan = await scanCertificateDir(tls.certificateDir);
      if (scan.problem !== undefined) {
        this.log.error({ dir: tls.certificateDir, reason: scan.problem }, 'certificate directory unreadable');
        keepUnder = tls.certificateDir;
        dirs.add(dirname(tls.certificateDir));
      }
      sources.push(...scan.pairs);
      for (const d of scan.dirs) dirs.add(d);
    }
    return { sources, dirs, keepUnder };
  }

  private async loadPair(
    files: CertificateFiles,
    previous: StoredCertificate | undefined,
    sessionTimeoutSeconds: number,
    summary: { loaded: string[]; rejected: { file: string; reason: string }[]; unchanged: number },
  ): Promise<StoredCertificate | null> {
    const reject = (reason: string): StoredCertificate | null => {
      summary.rejected.push({ file: files.certFile, reason });
      this.log.error(
        { file: files.certFile, keyFile: files.keyFile, reason, kept: previous?.parsed.fingerprint ?? null },
        previous === undefined ? 'certificate rejected' : 'certificate rejected: keeping the previous one',
      );
      return previous ?? null;
    };
    const text = await readPairText(files);
    if (!text.ok) return reject(text.reason);
    const digest = pairDigest(text.certPem, text.keyPem);
    if (previous !== undefined && previous.digest === digest) {
      summary.unchanged++;
      return previous;
    }
    const parsed = parseCertificatePair(text.certPem, text.keyPem);
    if (!parsed.ok) return reject(parsed.reason);
    let context: SecureContext;
    try {
      context = createServerContext(parsed.cert, { tickets: this.tickets, sessionTimeoutSeconds });
    } catch (err) {
      return reject(`not usable by TLS: ${err instanceof Error ? err.message : String(err)}`);
    }
    const entry = storedEntry(parsed.cert, context, {
      source: files.certFile,
      files,
      digest,
      generated: false,
    });
    summary.loaded.push(files.certFile);
    const problem = validityProblem(parsed.cert, this.now());
    const fields = {
      file: files.certFile,
      names: entry.names,
      notAfter: new Date(entry.notAfter).toISOString(),
      fingerprint: parsed.cert.fingerprint,
    };
    if (problem !== null)
      this.log.warn({ ...fields, problem }, 'certificate loaded, but it is not valid now');
    else this.log.info(fields, previous === undefined ? 'certificate loaded' : 'certificate replaced');
    if (entry.names.length === 0)
      this.log.warn({ file: files.certFile }, 'certificate has no DNS names in its SAN');
    return entry;
  }

  /** Self-signed certificates for terminate routes no loaded certificate covers (reused across reloads). */
  private async standIns(
    loaded: readonly StoredCertificate[],
    tls: TlsConfig,
    routes: readonly RouteConfig[],
    sessionTimeoutSeconds: number,
  ): Promise<Map<string, StoredCertificate>> {
    const hasDefault =
      tls.defaultCertificate !== undefined &&
      new CertificateIndex(loaded, { now: this.now() }).lookup(tls.defaultCertificate.toLowerCase()) !== null;
    const needed: string[] = [];
    for (const route of routes) {
      if (route.tls !== 'terminate') continue;
      const pattern = route.host.toLowerCase();
      const covered =
        pattern === '*' ? hasDefault : loaded.some((e) => certificateCoversPattern(e.names, pattern));
      if (!covered && !needed.includes(pattern)) needed.push(pattern);
    }
    if (needed.length > 0 && tls.requireCertificates) throw new MissingCertificateError(needed);
    const out = new Map<string, StoredCertificate>();
    for (const pattern of needed) {
      let entry = this.generated.get(pattern);
      if (entry === undefined) {
        const names = pattern === '*' ? ['edge46.invalid'] : [pattern];
        const pair = await generateSelfSigned(names, this.now());
        const parsed = parseCertificatePair(pair.certPem, pair.keyPem);
        if (!parsed.ok) throw new Error(`self-signed certificate for ${pattern}: ${parsed.reason}`);
        const context = createServerContext(parsed.cert, { tickets: this.tickets, sessionTimeoutSeconds });
        entry = storedEntry(parsed.cert, context, {
          source: `self-signed:${pattern}`,
          files: null,
          digest: '',
          generated: true,
        });
        this.log.warn(
          { route: pattern, names, fingerprint: parsed.cert.fingerprint },
          'no certificate for terminate route: serving a self-signed one (set tls.requireCertificates to forbid)',
        );
      }
      out.set(pattern, entry);
    }
    return out;
  }
}

function storedEntry(
  parsed: ParsedCertificate,
  context: SecureContext,
  meta: { source: string; files: CertificateFiles | null; digest: string; generated: boolean },
): StoredCertificate {
  return {
    ...meta,
    names: parsed.names,
    notBefore: parsed.notBefore,
    notAfter: parsed.notAfter,
    parsed,
    context,
  };
}

function sourceKey(files: CertificateFiles): string {
  return `${files.certFile}\n${files.keyFile}`;
}
