/**
 * Live reload: SIGHUP or a change of the config file on disk → re-read → validate (every problem) →
 * apply. An invalid file changes nothing: each problem is logged with its path and the reload is
 * counted as failed. Reloads run one at a time; triggers that arrive during one are folded into a
 * single follow-up.
 *
 * The file's directory is watched, not the file: editors replace files by rename, and Kubernetes
 * ConfigMap volumes swap a `..data` symlink, neither of which a watch on the file itself survives.
 * Every event in the directory re-reads the file; a watch-triggered reload only happens when the text
 * differs from the last one read, so bursts of events and unrelated files cost one read each.
 */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { formatProblems, parseConfigText, type ConfigProblem } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observe/logger.js';
import type { Metrics } from '../observe/metrics.js';

export interface ReloadRecord {
  /** Epoch milliseconds. */
  readonly at: number;
  readonly trigger: string;
  readonly ok: boolean;
  /** What changed (ok) or why it was rejected. */
  readonly summary: string;
  readonly problems: readonly ConfigProblem[];
}

export interface ReloaderOptions {
  /** The config file; undefined (embedded default): nothing to re-read, SIGHUP is a no-op. */
  readonly file: string | undefined;
  readonly log: Logger;
  /** Counts edge46_config_reloads_total; omit where another process counts (cluster workers). */
  readonly metrics?: Metrics;
  /** Applies a validated config; a rejection (e.g. a new listener cannot bind) fails the reload. */
  readonly apply: (config: Config) => Promise<string>;
  /** Watch the file's directory (default true). */
  readonly watch?: boolean;
  /** Quiet period after a file event before re-reading (default 100 ms). */
  readonly debounceMs?: number;
}

export class Reloader {
  private readonly opts: ReloaderOptions;
  private watcher: FSWatcher | null = null;
  private debounce: NodeJS.Timeout | null = null;
  /** The run that has not started yet (later triggers join it). */
  private queued: { trigger: string; force: boolean; promise: Promise<ReloadRecord | null> } | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private lastTextHash: string | null = null;
  private closed = false;
  last: ReloadRecord | null = null;

  constructor(opts: ReloaderOptions) {
    this.opts = opts;
  }

  /** Remembers the text the process started with, so that an unchanged file is not reloaded. */
  async start(): Promise<void> {
    const file = this.opts.file;
    if (file === undefined || this.closed) return;
    try {
      this.lastTextHash = hash(await readFile(file, 'utf8'));
    } catch {
      this.lastTextHash = null;
    }
    if (this.opts.watch === false || this.closed) return;
    try {
      this.watcher = watch(dirname(file), { persistent: false }, () => this.onFileEvent());
      this.watcher.on('error', (err) =>
        this.opts.log.warn({ err, file }, 'config watch failed; SIGHUP still reloads'),
      );
    } catch (err) {
      this.opts.log.warn({ err, file }, 'cannot watch the config file; SIGHUP still reloads');
    }
  }

  /**
   * Re-reads and applies the file. `force` (SIGHUP): reload even when the text is unchanged.
   * Resolves with the record of the run that covered this trigger (null: nothing to do).
   */
  trigger(trigger: string, force = true): Promise<ReloadRecord | null> {
    if (this.closed) return Promise.resolve(null);
    const queued = this.queued;
    if (queued !== null) {
      // Not started yet: this trigger rides along.
      queued.trigger = `${queued.trigger}, ${trigger}`;
      queued.force ||= force;
      return queued.promise;
    }
    const entry = { trigger, force, promise: Promise.resolve<ReloadRecord | null>(null) };
    entry.promise = this.tail.then(() => {
      if (this.queued === entry) this.queued = null;
      return this.closed ? null : this.run(entry.trigger, entry.force);
    });
    this.queued = entry;
    this.tail = entry.promise.catch(() => null);
    return entry.promise;
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    this.watcher = null;
    if (this.debounce !== null) clearTimeout(this.debounce);
    this.debounce = null;
  }

  private onFileEvent(): void {
    if (this.closed) return;
    if (this.debounce !== null) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = null;
      void this.trigger('file change', false);
    }, this.opts.debounceMs ?? 100);
    this.debounce.unref();
  }

  private async run(trigger: string, force: boolean): Promise<ReloadRecord | null> {
    const { file, log } = this.opts;
    if (file === undefined) {
      log.info({ trigger }, 'reload: no --config file (embedded default); nothing to reload');
      return null;
    }
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      // A file briefly missing during an editor's rename is not worth a failed reload.
      if (!force && code === 'ENOENT') return null;
      return this.reject(trigger, [{ path: '', message: `cannot read ${file}: ${code}` }]);
    }
    const textHash = hash(text);
    if (!force && textHash === this.lastTextHash) return null;
    this.lastTextHash = textHash;
    const parsed = parseConfigText(text);
    if (!parsed.ok) return this.reject(trigger, parsed.problems);
    let summary: string;
    try {
      summary = await this.opts.apply(parsed.config);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      return this.reject(trigger, [{ path: '', message: `not applied: ${message}` }]);
    }
    this.opts.metrics?.configReload('success');
    log.info({ trigger, file }, `config reloaded: ${summary}`);
    this.last = { at: Date.now(), trigger, ok: true, summary, problems: [] };
    return this.last;
  }

  private reject(trigger: string, problems: readonly ConfigProblem[]): ReloadRecord {
    const { file, log } = this.opts;
    this.opts.metrics?.configReload('failure');
    for (const problem of problems) {
      log.error({ trigger, file, path: problem.path, problem: problem.message }, 'config reload: problem');
    }
    const summary = `${problems.length} problem(s); the running configuration is unchanged`;
    log.error({ trigger, file, problems: formatProblems(problems) }, `config reload rejected: ${summary}`);
    this.last = { at: Date.now(), trigger, ok: false, summary, problems };
    return this.last;
  }
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Keys a reload cannot change in a running process; they take effect at the next start. */
export function restartOnlyChanges(before: Config, after: Config): string[] {
  const out: string[] = [];
  if (JSON.stringify(before.workers) !== JSON.stringify(after.workers)) out.push('workers');
  if (before.admin.address !== after.admin.address) out.push('admin.address');
  if (before.log.format !== after.log.format) out.push('log.format');
  if (JSON.stringify(before.pipe) !== JSON.stringify(after.pipe)) out.push('pipe');
  return out;
}

/** One line for the log and the status page. */
export function describeReload(summary: {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly kept: readonly string[];
  readonly routes: number;
}): string {
  const parts = [`${summary.kept.length + summary.added.length} listener(s)`];
  if (summary.added.length > 0) parts.push(`added ${summary.added.join(', ')}`);
  if (summary.removed.length > 0) parts.push(`removed ${summary.removed.join(', ')}`);
  parts.push(`${summary.routes} route(s)`);
  return parts.join(', ');
}
