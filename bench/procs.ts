/**
 * Processes the bench starts: pinned with taskset, fd limit raised to the hard limit in a spawned shell,
 * CPU time and RSS read from /proc, and always stopped by PID (SIGTERM, then SIGKILL after a bound) —
 * at the end of a scenario, and on exit or a signal for whatever is still running.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { createInterface } from 'node:readline';

export interface StartOptions {
  readonly name: string;
  readonly cmd: string;
  readonly args: readonly string[];
  /** taskset CPU list ("1"); omitted: not pinned. */
  readonly cpu?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  /** Called with each stdout line. */
  readonly onLine?: (line: string) => void;
  /** Keep stdin open (for helpers that wait for a line). */
  readonly stdin?: boolean;
}

const STOP_BOUND_MS = 3_000;
const running = new Set<Proc>();
let clockTicks: number | undefined;

export class Proc {
  readonly pid: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private stderrTail = '';
  private exitedNow = false;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    if (child.pid === undefined) throw new Error(`${name}: spawn failed`);
    this.pid = child.pid;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitedNow = true;
        running.delete(this);
        resolve({ code, signal });
      });
    });
    child.stderr?.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-4000);
    });
  }

  static start(opts: StartOptions): Proc {
    // `ulimit -n` up to the hard limit, then exec (taskset then execs the command): the PID stays the same.
    const argv = [...(opts.cpu === undefined ? [] : ['taskset', '-c', opts.cpu]), opts.cmd, ...opts.args];
    const child = spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" && exec "$@"', 'sh', ...argv], {
      stdio: [opts.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
    });
    const proc = new Proc(opts.name, child);
    running.add(proc);
    const out = child.stdout;
    if (out !== null) {
      if (opts.onLine === undefined) out.resume();
      else createInterface({ input: out }).on('line', opts.onLine);
    }
    return proc;
  }

  get alive(): boolean {
    return !this.exitedNow;
  }

  stderr(): string {
    return this.stderrTail;
  }

  writeLine(line: string): void {
    this.child.stdin?.write(`${line}\n`);
  }

  /** user+sys seconds of the whole process (every thread, the native addon's included). */
  cpuSeconds(): number {
    return readCpuSeconds(this.pid);
  }

  /** Resident set size in bytes (VmRSS). */
  rssBytes(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return m?.[1] === undefined ? 0 : Number(m[1]) * 1024;
  }

  /** SIGTERM, then SIGKILL if it is still there after a bound. Idempotent. */
  async stop(): Promise<void> {
    if (this.exitedNow) return;
    this.signal('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), STOP_BOUND_MS)));
    const first = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (first === 'late') {
      this.signal('SIGKILL');
      await this.exited;
    }
  }

  signal(sig: NodeJS.Signals): void {
    try {
      process.kill(this.pid, sig);
    } catch {
      // already gone
    }
  }
}

export function readCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name in parentheses: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

/** Stops every process still running (by PID), e.g. after a failure. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}

function killAllNow(): void {
  for (const p of running) p.signal('SIGKILL');
}

process.once('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    void stopAll().finally(() => process.exit(130));
  });
}

/** A port that was free a moment ago on `host`. */
export async function freePort(host: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Resolves once `host:port` accepts a TCP connection; rejects after `timeoutMs` or if `proc` exits. */
export async function waitForPort(host: string, port: number, proc: Proc, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < 1000; attempt++) {
    if (!proc.alive) throw new Error(`${proc.name} exited: ${proc.stderr().trim().slice(-500)}`);
    if (await canConnect(host, port)) return;
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${proc.name}: ${host}:${port} not accepting after ${timeoutMs} ms`);
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
