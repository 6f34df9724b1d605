/**
 * The pipe core's interface. A pipe engine takes an established client↔backend pair (both sockets
 * created with allowHalfOpen and paused) and moves bytes both ways until both directions have ended.
 * Engines: `js` (pipe/js-engine.ts) and, where the native addon loads, `splice` (pipe/splice-engine.ts).
 */
import type { Socket } from 'node:net';

export interface PipeOptions {
  /** Bytes already read from the client (the sniffed ClientHello and anything after it): sent first. */
  readonly clientHead: Buffer;
  /** Bytes already read from the backend (e.g. left over after an HTTP 101): sent to the client first. */
  readonly backendHead?: Buffer;
  /** Both directions silent for this long → the pair is closed (0 disables). */
  readonly idleTimeoutMs: number;
}

/** Why a pair ended. `done`: both directions finished with FIN. */
export type PipeEnd = 'done' | 'idle' | 'client-reset' | 'backend-reset' | 'aborted' | 'error';

export interface PipeResult {
  /** Bytes written towards the backend, clientHead included. */
  readonly bytesToBackend: number;
  /** Bytes written towards the client, backendHead included. */
  readonly bytesToClient: number;
  readonly end: PipeEnd;
  readonly error?: unknown;
}

export interface PipeHandle {
  /** Resolves once both sockets are closed; never rejects. */
  readonly done: Promise<PipeResult>;
  /** Live counters for metrics while the pair is open. */
  bytes(): { readonly toBackend: number; readonly toClient: number };
  /** Close both sides now with a reset (drain deadline, shutdown). Idempotent. */
  abort(): void;
}

export interface PipeEngine {
  readonly name: 'js' | 'splice';
  start(client: Socket, backend: Socket, opts: PipeOptions): PipeHandle;
}
