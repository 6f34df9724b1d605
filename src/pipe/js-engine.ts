/**
 * The portable pipe engine: flowing-mode 'data' events with pause/resume backpressure. One object and a
 * fixed set of bound handlers per pair; nothing is allocated per chunk beyond what Node itself does.
 * Resets are propagated as resets (a plain `pipe()` would turn a backend RST into a FIN, silently
 * truncating what the client believes is a complete stream).
 */
import type { Socket } from 'node:net';
import { errnoCode } from '../errors.js';
import type { PipeEnd, PipeEngine, PipeHandle, PipeOptions, PipeResult } from './engine.js';

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
  private toBackend = 0;
  private toClient = 0;
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
    client.on('data', this.onClientData);
    backend.on('data', this.onBackendData);
    client.on('drain', this.onClientDrain);
    backend.on('drain', this.onBackendDrain);
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
    if (opts.clientHead.length > 0) {
      this.toBackend += opts.clientHead.length;
      backend.write(opts.clientHead);
    }
    if (opts.backendHead !== undefined && opts.backendHead.length > 0) {
      this.toClient += opts.backendHead.length;
      client.write(opts.backendHead);
    }
    if (client.destroyed) this.onClose();
    if (backend.destroyed) this.onClose();
    client.resume();
    backend.resume();
  }

  bytes(): { toBackend: number; toClient: number } {
    return { toBackend: this.toBackend, toClient: this.toClient };
  }

  abort(): void {
    this.finish('aborted');
    resetSocket(this.client);
    resetSocket(this.backend);
  }

  private readonly onClientData = (chunk: Buffer): void => {
    this.toBackend += chunk.length;
    if (!this.backend.write(chunk)) this.client.pause();
  };

  private readonly onBackendData = (chunk: Buffer): void => {
    this.toClient += chunk.length;
    if (!this.client.write(chunk)) this.backend.pause();
  };

  private readonly onClientDrain = (): void => {
    this.backend.resume();
  };

  private readonly onBackendDrain = (): void => {
    this.client.resume();
  };

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
      this.finish('done');
      const result: PipeResult =
        this.error === undefined
          ? { bytesToBackend: this.toBackend, bytesToClient: this.toClient, end: this.end ?? 'done' }
          : {
              bytesToBackend: this.toBackend,
              bytesToClient: this.toClient,
              end: this.end ?? 'error',
              error: this.error,
            };
      this.resolveDone(result);
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
  // resetAndDestroy sends RST (SO_LINGER 0); it throws if the handle is already gone.
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}
