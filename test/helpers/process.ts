/**
 * Child processes for tests: spawn (optionally inside a network namespace via `ip netns exec`, which
 * execs the command so the PID is the command's own), collect stdout/stderr lines, wait for a line
 * driven by the data events (no polling), and stop by PID: SIGTERM, then SIGKILL after a bound.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { createInterface } from 'node:readline';

/** The part of a tap `Test` the helpers use: they register their own cleanup. */
export interface TeardownRegistrar {
  teardown(fn: () => unknown): void;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export type JsonRecord = Record<string, unknown>;
export type StreamName = 'stdout' | 'stderr';

export interface SpawnOptions {
  /** Run inside this network namespace (`ip netns exec NS …`). */
  readonly ns?: string;
  /** Label used in error messages (default: the command's basename). */
  readonly name?: string;
  /** Default: childEnv(). */
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** SIGTERM → SIGKILL bound used by `stop()` and by the teardown (default 3000 ms). */
  readonly stopTimeoutMs?: number;
  /** Registers `stop()` as a teardown of this test. */
  readonly t?: TeardownRegistrar;
}

export interface LineWaitOptions {
  /** Which stream to watch (default stdout). */
  readonly stream?: StreamName;
  /** Only lines with this index or later count (default 0: lines already seen count too). */
  readonly from?: number;
}

export interface ChildHandle {
  readonly pid: number;
  readonly name: string;
  /** Lines seen so far, in order, without the newline. */
  readonly stdout: readonly string[];
  readonly stderr: readonly string[];
  /** Set once the process has exited. */
  readonly exitInfo: ExitInfo | null;
  /** Resolves when the process has exited and its output has been read (never rejects). */
  readonly exited: Promise<ExitInfo>;
  /** Resolves with the first matching line; rejects on timeout or when the process exits first. */
  waitForLine(
    predicate: (line: string) => boolean,
    timeoutMs: number,
    opts?: LineWaitOptions,
  ): Promise<string>;
  /** Like waitForLine over the stdout lines that parse as JSON objects (pino output). */
  waitForJson(
    predicate: (record: JsonRecord) => boolean,
    timeoutMs: number,
    opts?: { readonly from?: number },
  ): Promise<JsonRecord>;
  /** Every stdout line that parses as a JSON object, in order. */
  jsonLines(): JsonRecord[];
  /** Sends `signal` (default SIGTERM) by PID, SIGKILL after `timeoutMs`; idempotent. */
  stop(opts?: { readonly signal?: NodeJS.Signals; readonly timeoutMs?: number }): Promise<ExitInfo>;
}

interface Waiter {
  readonly test: (line: string, index: number) => boolean;
  readonly from: number;
  readonly resolve: (line: string) => void;
  readonly reject: (err: Error) => void;
}

// Bounds memory for chatty children (tests read far fewer); past it the oldest lines go and `from`
// indexes shift.
const MAX_LINES = 200_000;

/**
 * The environment children get by default: this process's, minus what the test runner injects for its
 * own test processes (loaders and coverage hooks in NODE_OPTIONS, NODE_V8_COVERAGE). The children here
 * are servers and tools, not tests.
 */
export function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  delete env.NODE_V8_COVERAGE;
  return env;
}

export function nsCommand(cmd: readonly string[], ns: string | undefined): string[] {
  return ns === undefined ? [...cmd] : ['ip', 'netns', 'exec', ns, ...cmd];
}

export function parseJsonLine(line: string): JsonRecord | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as JsonRecord)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Starts a long-running child. Throws synchronously when the executable cannot be spawned. */
export function spawnProcess(cmd: readonly string[], opts: SpawnOptions = {}): ChildHandle {
  const argv = nsCommand(cmd, opts.ns);
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('spawnProcess: empty command');
  const name =
    opts.name ?? `${cmd[0]?.split('/').pop() ?? file}${opts.ns === undefined ? '' : `@${opts.ns}`}`;
  const child = spawn(file, args, {
    env: opts.env ?? childEnv(),
    cwd: opts.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let spawnError: Error | undefined;
  child.on('error', (err) => {
    spawnError = err;
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`spawnProcess: cannot start ${argv.join(' ')}`);

  const lines: Record<StreamName, string[]> = { stdout: [], stderr: [] };
  const waiters: Record<StreamName, Set<Waiter>> = { stdout: new Set(), stderr: new Set() };
  let exitInfo: ExitInfo | null = null;

  const onLine = (stream: StreamName, line: string): void => {
    const list = lines[stream];
    if (list.length >= MAX_LINES) list.shift();
    list.push(line);
    const index = list.length - 1;
    for (const w of waiters[stream]) {
      if (index < w.from) continue;
      let matched: boolean;
      try {
        matched = w.test(line, index);
      } catch (err) {
        w.reject(err instanceof Error ? err : new Error(String(err)));
        continue;
      }
      if (matched) w.resolve(line);
    }
  };
  createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (l) => onLine('stdout', l));
  createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', (l) => onLine('stderr', l));

  const tail = (): string => {
    const out = lines.stdout.slice(-10).join('\n');
    const err = lines.stderr.slice(-10).join('\n');
    return `\n--- ${name} stdout (last lines) ---\n${out}\n--- ${name} stderr (last lines) ---\n${err}`;
  };

  const exited = new Promise<ExitInfo>((resolve) => {
    let closeBound: NodeJS.Timeout | undefined;
    const finish = (info: ExitInfo): void => {
      if (closeBound !== undefined) clearTimeout(closeBound);
      exitInfo ??= info;
      for (const stream of ['stdout', 'stderr'] as const) {
        for (const w of waiters[stream]) {
          const why =
            spawnError === undefined
              ? `exited (code ${info.code}, signal ${info.signal})`
              : spawnError.message;
          w.reject(new Error(`${name} ${why} before the awaited line${tail()}`));
        }
      }
      resolve(exitInfo);
    };
    child.on('close', (code, signal) => finish({ code, signal }));
    // A grandchild that inherited stdout can keep 'close' from firing; the exit itself is enough then.
    child.on('exit', (code, signal) => {
      closeBound = setTimeout(() => finish({ code, signal }), 1000);
      closeBound.unref();
    });
  });

  const waitForLine = (
    predicate: (line: string) => boolean,
    timeoutMs: number,
    waitOpts: LineWaitOptions = {},
  ): Promise<string> => {
    const stream = waitOpts.stream ?? 'stdout';
    const from = waitOpts.from ?? 0;
    const seen = lines[stream];
    for (let i = Math.max(0, from); i < seen.length; i++) {
      const line = seen[i];
      if (line !== undefined && predicate(line)) return Promise.resolve(line);
    }
    if (exitInfo !== null) return Promise.reject(new Error(`${name} has already exited${tail()}`));
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters[stream].delete(waiter);
        reject(new Error(`${name}: no matching ${stream} line within ${timeoutMs} ms${tail()}`));
      }, timeoutMs);
      const waiter: Waiter = {
        test: (line) => predicate(line),
        from,
        resolve: (line) => {
          clearTimeout(timer);
          waiters[stream].delete(waiter);
          resolve(line);
        },
        reject: (err) => {
          clearTimeout(timer);
          waiters[stream].delete(waiter);
          reject(err);
        },
      };
      waiters[stream].add(waiter);
    });
  };

  live.add(pid);
  void exited.then(() => live.delete(pid));

  let stopping: Promise<ExitInfo> | undefined;
  const stop = (
    stopOpts: { readonly signal?: NodeJS.Signals; readonly timeoutMs?: number } = {},
  ): Promise<ExitInfo> => {
    if (exitInfo !== null) return Promise.resolve(exitInfo);
    stopping ??= (async () => {
      const bound = stopOpts.timeoutMs ?? opts.stopTimeoutMs ?? 3000;
      signalPid(pid, stopOpts.signal ?? 'SIGTERM');
      const killTimer = setTimeout(() => killTree(pid), bound);
      try {
        return await exited;
      } finally {
        clearTimeout(killTimer);
      }
    })();
    return stopping;
  };

  const handle: ChildHandle = {
    pid,
    name,
    stdout: lines.stdout,
    stderr: lines.stderr,
    get exitInfo() {
      return exitInfo;
    },
    exited,
    waitForLine,
    waitForJson: (predicate, timeoutMs, jsonOpts = {}) =>
      waitForLine(
        (line) => {
          const record = parseJsonLine(line);
          return record !== undefined && predicate(record);
        },
        timeoutMs,
        { stream: 'stdout', from: jsonOpts.from ?? 0 },
      ).then((line) => parseJsonLine(line) as JsonRecord),
    jsonLines: () => lines.stdout.map(parseJsonLine).filter((r): r is JsonRecord => r !== undefined),
    stop,
  };
  opts.t?.teardown(() => stop());
  return handle;
}

/** PIDs of children started here that have not exited yet. */
const live = new Set<number>();
// Safety net for a test process that dies without running its teardowns (an uncaught error in
// top-level setup): 'exit' still fires, and process.kill is synchronous.
process.once('exit', () => {
  for (const pid of live) killTree(pid);
});

/** The PIDs of `pid`'s descendants, read from /proc (children first found, deepest last). */
export function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Field 4 of /proc/PID/stat, after the parenthesised command name (which may contain spaces).
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parentOf.set(Number(entry), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const queue = [pid];
  for (let i = 0; i < queue.length && out.length < 10_000; i++) {
    for (const [child, parent] of parentOf) {
      if (parent === queue[i]) {
        out.push(child);
        queue.push(child);
      }
    }
  }
  return out;
}

/** True while `pid` exists and is not a zombie (a killed orphan may wait for its reaper a while). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** SIGKILL for `pid` and every descendant it has (cluster workers, nginx workers), each by PID. */
export function killTree(pid: number): void {
  const tree = [pid, ...descendants(pid)];
  for (const p of tree) signalPid(p, 'SIGKILL');
}

/** Sends a signal to one PID; a process that is already gone is not an error. */
export function signalPid(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

export interface ExecOptions {
  readonly ns?: string;
  /** Written to stdin, which is then closed. */
  readonly input?: string | Buffer;
  /** Default: childEnv(). */
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** SIGKILL after this bound (default 30 s); the result's code is then 128 + 9. */
  readonly timeoutMs?: number;
}

export interface ExecResult {
  /** Exit code; 128 + signal number when the process was killed by a signal (as shells report it). */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion and collects its output. Rejects only when it cannot be spawned. */
export function runCommand(cmd: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const [file, ...args] = nsCommand(cmd, opts.ns);
  if (file === undefined) return Promise.reject(new Error('runCommand: empty command'));
  return new Promise<ExecResult>((resolve, reject) => {
    const child = spawn(file, args, {
      env: opts.env ?? childEnv(),
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const signo = signal === null ? 0 : (osConstants.signals[signal] ?? 0);
      resolve({
        code: code ?? 128 + signo,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    if (opts.input !== undefined && child.stdin !== null) child.stdin.end(opts.input);
  });
}

/** Like runCommand, but rejects (with the command and its stderr) unless it exits 0; returns stdout. */
export async function runChecked(cmd: readonly string[], opts: ExecOptions = {}): Promise<string> {
  const result = await runCommand(cmd, opts);
  if (result.code !== 0) {
    const where = opts.ns === undefined ? '' : ` (in ${opts.ns})`;
    throw new Error(
      `\`${cmd.join(' ')}\`${where} exited ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`,
    );
  }
  return result.stdout;
}
