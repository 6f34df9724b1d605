/**
 * The `splice` pipe engine: established pairs leave the JS thread and move kernel-side with splice(2) on
 * the native addon's worker threads (../../native, notes in shared/notes/splice.md).
 *
 * Handoff, all in one tick: take whatever Node already buffered on either socket and append it to the
 * heads, give the addon both fds (it dup()s them), then destroy() both JS sockets so libuv drops them from
 * its epoll. The addon's dups keep the connections open, so this sends nothing to the peers. From then on
 * JS never touches those sockets again (end() or resetAndDestroy() would act on the shared connection);
 * it only hears the completion and reads the live byte counters.
 */
import type { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import type { PipeEnd, PipeEngine, PipeHandle, PipeOptions, PipeResult } from './engine.js';
import { createJsEngine } from './js-engine.js';
import { loadNative } from './native.js';
import type { NativeAddon, NativePump } from './native.js';

/** Indexed by the addon's `enum pump_end` (native/src/pump.h). */
const PUMP_ENDS: readonly PipeEnd[] = ['done', 'idle', 'client-reset', 'backend-reset', 'aborted', 'error'];

/** The addon takes a uint32 of milliseconds; beyond ~24 days a pair is as good as never idle. */
const MAX_IDLE_MS = 2 ** 31 - 1;

export interface SpliceEngineOptions {
  /** Worker threads; pairs are assigned round-robin (default 1). */
  readonly threads?: number;
}

export interface SpliceEngine extends PipeEngine {
  readonly name: 'splice';
  /** Pairs handed over and not yet finished. */
  readonly active: number;
  /** Resets every open pair (their handles resolve as `aborted`) and stops the workers. Idempotent. */
  close(): void;
}

/** null when the native addon is unavailable (see `nativeLoadError()`). */
export function createSpliceEngine(opts: SpliceEngineOptions = {}): SpliceEngine | null {
  const addon = loadNative();
  if (addon === null) return null;
  const threads = opts.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) {
    throw new RangeError(`splice engine: threads must be an integer in 1..64, got ${threads}`);
  }
  return new SpliceEngineImpl(addon, threads);
}

class SpliceEngineImpl implements SpliceEngine {
  readonly name = 'splice';
  private pump: NativePump | null = null;
  private closed = false;
  private readonly pairs = new Map<number, SplicePair>();
  private js: PipeEngine | null = null;

  constructor(
    private readonly addon: NativeAddon,
    private readonly threads: number,
  ) {}

  get active(): number {
    return this.pairs.size;
  }

  start(client: Socket, backend: Socket, opts: PipeOptions): PipeHandle {
    // A TLSSocket's handle exposes the TCP fd too: splicing it would move ciphertext past the TLS layer
    // (an upgrade on a connection edge46 terminated, or to an https backend). Those pairs stay in JS.
    if (isTls(client) || isTls(backend)) return (this.js ??= createJsEngine()).start(client, backend, opts);
    const clientFd = socketFd(client);
    const backendFd = socketFd(backend);
    if (clientFd === undefined || backendFd === undefined) {
      // One side closed before the handoff: nothing can flow, and the other side must not hang open.
      resetSocket(client);
      resetSocket(backend);
      return settled({
        bytesToBackend: 0,
        bytesToClient: 0,
        end: clientFd === undefined ? 'client-reset' : 'backend-reset',
      });
    }
    if (client.writableLength > 0 || backend.writableLength > 0) {
      throw new Error(
        'splice engine: a socket with unflushed writes cannot be handed over (pass the bytes as a head)',
      );
    }
    const clientHead = withBuffered(opts.clientHead, client);
    const backendHead = withBuffered(opts.backendHead, backend);
    const counters = new Float64Array(new ArrayBuffer(16));
    let id: number;
    try {
      if (this.closed) throw new Error('splice engine is closed');
      this.pump ??= new this.addon.Pump(this.threads, this.onDone);
      const idleMs = Math.min(Math.max(0, Math.ceil(opts.idleTimeoutMs)), MAX_IDLE_MS);
      id = this.pump.add(clientFd, backendFd, clientHead, backendHead, idleMs, counters);
    } catch (error) {
      resetSocket(client);
      resetSocket(backend);
      return settled({ bytesToBackend: 0, bytesToClient: 0, end: 'error', error });
    }
    // The addon holds dups now: closing Node's copies sends nothing and removes them from libuv's epoll.
    client.destroy();
    backend.destroy();
    const pair = new SplicePair(this, id, counters);
    this.pairs.set(id, pair);
    return pair;
  }

  abortPair(id: number): void {
    this.pump?.abort(id);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pump?.close();
    for (const pair of this.pairs.values()) pair.settleAborted();
    this.pairs.clear();
  }

  private readonly onDone = (
    id: number,
    toBackend: number,
    toClient: number,
    end: number,
    errno: number,
  ): void => {
    const pair = this.pairs.get(id);
    if (pair === undefined) return;
    this.pairs.delete(id);
    const pipeEnd = PUMP_ENDS[end] ?? 'error';
    if (errno === 0) pair.settle({ bytesToBackend: toBackend, bytesToClient: toClient, end: pipeEnd });
    else
      pair.settle({
        bytesToBackend: toBackend,
        bytesToClient: toClient,
        end: pipeEnd,
        error: errnoError(errno, pipeEnd),
      });
  };
}

class SplicePair implements PipeHandle {
  readonly done: Promise<PipeResult>;
  private result: PipeResult | null = null;
  private aborted = false;
  private resolveDone!: (result: PipeResult) => void;

  constructor(
    private readonly engine: SpliceEngineImpl,
    private readonly id: number,
    private readonly counters: Float64Array,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  bytes(): { readonly toBackend: number; readonly toClient: number } {
    if (this.result !== null)
      return { toBackend: this.result.bytesToBackend, toClient: this.result.bytesToClient };
    return { toBackend: this.counters[0] ?? 0, toClient: this.counters[1] ?? 0 };
  }

  abort(): void {
    if (this.result !== null || this.aborted) return;
    this.aborted = true;
    this.engine.abortPair(this.id);
  }

  settle(result: PipeResult): void {
    if (this.result !== null) return;
    this.result = result;
    this.resolveDone(result);
  }

  settleAborted(): void {
    this.settle({
      bytesToBackend: this.counters[0] ?? 0,
      bytesToClient: this.counters[1] ?? 0,
      end: 'aborted',
    });
  }
}

function settled(result: PipeResult): PipeHandle {
  return {
    done: Promise.resolve(result),
    bytes: () => ({ toBackend: 0, toClient: 0 }),
    abort: () => undefined,
  };
}

function isTls(socket: Socket): boolean {
  return (socket as { encrypted?: boolean }).encrypted === true;
}

/** The OS fd behind a connected net.Socket (libuv's TCP handle exposes it on Unix), else undefined. */
function socketFd(socket: Socket): number | undefined {
  if (socket.destroyed || socket.connecting) return undefined;
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/** The head followed by whatever Node has already read from the socket and not delivered. */
function withBuffered(head: Buffer | undefined, socket: Socket): Buffer {
  const parts: Buffer[] = head !== undefined && head.length > 0 ? [head] : [];
  while (socket.readableLength > 0) {
    const chunk: unknown = socket.read(socket.readableLength);
    if (chunk === null) break;
    parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  }
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  return Buffer.concat(parts);
}

function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

let errnoNames: Map<number, string> | undefined;

function errnoError(errno: number, end: PipeEnd): Error {
  errnoNames ??= new Map(Object.entries(osConstants.errno).map(([name, num]) => [num, name]));
  const code = errnoNames.get(errno) ?? `E${errno}`;
  const where = end === 'client-reset' ? 'client' : end === 'backend-reset' ? 'backend' : 'pipe';
  return Object.assign(new Error(`${where}: ${code}`), { code, errno: -errno, syscall: 'splice' });
}
