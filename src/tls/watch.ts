/**
 * Watches the directories that hold certificate files and calls back once per burst of changes.
 * Directories, not files: editors and Kubernetes replace files by rename (a secret volume swaps its
 * `..data` symlink), which a watch on the old inode would never see.
 */
import { watch, type FSWatcher } from 'node:fs';
import type { Logger } from '../observe/logger.js';

export class DirectoryWatcher {
  private readonly watchers = new Map<string, FSWatcher>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly onChange: () => void,
    private readonly opts: { readonly debounceMs: number; readonly log: Logger },
  ) {}

  /** Watches exactly `dirs` from now on (new ones added, ones no longer listed closed). */
  watch(dirs: Iterable<string>): void {
    if (this.closed) return;
    const wanted = new Set(dirs);
    for (const [dir, watcher] of this.watchers) {
      if (!wanted.has(dir)) {
        watcher.close();
        this.watchers.delete(dir);
      }
    }
    for (const dir of wanted) {
      if (this.watchers.has(dir)) continue;
      try {
        const watcher = watch(dir, { persistent: false }, () => this.changed());
        watcher.on('error', (err) => {
          this.opts.log.warn({ err, dir }, 'certificate directory watch failed');
          watcher.close();
          this.watchers.delete(dir);
          this.changed();
        });
        this.watchers.set(dir, watcher);
      } catch (err) {
        this.opts.log.warn({ err, dir }, 'cannot watch certificate directory');
      }
    }
  }

  get watching(): readonly string[] {
    return [...this.watchers.keys()];
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
  }

  private changed(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.onChange(), this.opts.debounceMs);
    this.timer.unref();
  }
}
