/**
 * The portable pipe engine. Each direction reads with net.Socket's `onread` machinery into buffers it
 * chooses (pipe/read-buffers.ts): a shared buffer while a direction is quiet (its bytes copied out, so an
 * idle pair holds no buffer), a pooled 256 KiB buffer of its own while bytes stream (written as is, zero
 * copies, next read only once the write has completed). One object and a fixed set of bound handlers per
 * pair; nothing is allocated per chunk but a view of the buffer. Where Node's internals differ, it falls
 * back to 'data' events.
 *
 * Resets are propagated as resets (a plain `pipe()` would turn a backend RST into a FIN, silently
 * truncating what the client believes is a complete stream).
 */
import type { Socket } from 'node:net';
import { errnoCode } from '../errors.js';
import type { PipeEnd, PipeEngine, PipeHandle, PipeOptions, PipeResult } from './engine.js';
import { ReadDirection } from './read-buffers.js';

export function createJsEngine(): PipeEngine {
  return { name: 'js', start: (client, backend, opts) => new JsPair(client, backend, opts) };
}

/** Errors that mean the peer reset or vanished: propagate as a reset to the other side. */
const RESET_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

class JsPair implements PipeHandle {
  readonly done: Promise<PipeResult>;
  private readonly up: ReadDirection;
  private readonly down: ReadDirection;
  private end: PipeEnd | null = null;
  private error: unknown = undefined;
  private open = 2;
  private resolveDone!: (result: PipeResult) => void;

  constructor(
    private readonly client: Socket,
    private readonly backend: Socket,
    opts: PipeOptions,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.up = new ReadDirection(client, backend);
    this.down = new ReadDirection(backend, client);
    // Half-close: a FIN from one side ends the other side's write direction only.
    client.on('end', this.onClientEnd);
    backend.on('end', this.onBackendEnd);
    client.on('error', this.onClientError);
    backend.on('error', this.onBackendError);
    client.on('close', this.onClose);
    backend.on('close', this.onClose);
    if (opts.idleTimeoutMs > 0) {
      // Node resets a socket's timer on every read and write, and every byte of the pair passes through
      // both sockets, so either timer firing means the whole pair was silent for idleTimeoutMs.
      client.setTimeout(opts.idleTimeoutMs, this.onIdle);
      backend.setTimeout(opts.idleTimeoutMs, this.onIdle);
    }
    if (client.destroyed) this.onClose();
    if (backend.destroyed) this.onClose();
    this.up.start(opts.clientHead);
    this.down.start(opts.backendHead);
  }

  bytes(): { toBackend: number; toClient: number } {
    return { toBackend: this.up.bytes, toClient: this.down.bytes };
  }

  abort(): void {
    this.finish('aborted');
    resetSocket(this.client);
    resetSocket(this.backend);
  }

  private readonly onClientEnd = (): void => {
    this.backend.end();
  };

  private readonly onBackendEnd = (): void => {
    this.client.end();
  };

  private readonly onClientError = (err: Error): void => {
    this.fail(err, 'client-reset', this.backend);
  };

  private readonly onBackendError = (err: Error): void => {
    this.fail(err, 'backend-reset', this.client);
  };

  private readonly onIdle = (): void => {
    this.finish('idle');
    this.client.destroy();
    this.backend.destroy();
  };

  private readonly onClose = (): void => {
    this.open -= 1;
    if (this.open === 1) {
      // One side is gone. Unless the other has finished both directions cleanly (and is only flushing),
      // its peer can never send or receive again: close it so the pair cannot hang open.
      const other = this.client.destroyed ? this.backend : this.client;
      if (!other.destroyed && !(other.readableEnded && other.writableEnded)) other.destroy();
    }
    if (this.open === 0) {
      // Both handles are closed, so no read or write still refers to the directions' buffers.
      this.up.release();
      this.down.release();
      this.finish('done');
      const bytes = { bytesToBackend: this.up.bytes, bytesToClient: this.down.bytes };
      this.resolveDone(
        this.error === undefined
          ? { ...bytes, end: this.end ?? 'done' }
          : { ...bytes, end: this.end ?? 'error', error: this.error },
      );
    }
  };

  private fail(err: Error, resetEnd: PipeEnd, other: Socket): void {
    const isReset = RESET_CODES.has(errnoCode(err) ?? '');
    this.finish(isReset ? resetEnd : 'error');
    this.error ??= err;
    resetSocket(other);
  }

  private finish(end: PipeEnd): void {
    this.end ??= end;
  }
}

function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  // After end() libuv refuses the reset (uv_tcp_close_reset: EINVAL once a shutdown was requested) and
  // Node then neither closes the handle nor emits 'close': the pair would never end and its fd would
  // leak. The FIN has gone out already; a plain close answers anything the peer still sends with a RST.
  if (socket.writableEnded) {
    socket.destroy();
    return;
  }
  // resetAndDestroy sends RST (SO_LINGER 0); it throws if the handle is already gone.
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}
