/**
 * Staggered connect over the resolved IPv6 addresses (RFC 8305 §5 "Happy Eyeballs" connection
 * attempts, one family only): attempts start in answer order; an attempt that has neither connected nor
 * failed after attemptDelayMs gets company from the next address while it keeps trying, and a failure
 * starts the next at once. The first connection wins; the others are destroyed.
 *
 * Every address is checked against the policy right before it is dialled (STYLE.md §7): the answer may
 * have been cached while the allowlist changed, and a check on names alone would miss DNS rebinding.
 *
 * The winner is handed over paused (paused before connect, so Node never starts reading it), with
 * allowHalfOpen and TCP_NODELAY set and none of the dialer's listeners left on it: the caller attaches
 * its own before it resumes or writes.
 */
import { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { errnoCode, ProxyError } from '../errors.js';
import type { AddressPolicy } from '../resolve/address-policy.js';

export interface DialOptions {
  readonly addresses: readonly string[];
  readonly port: number;
  readonly policy: AddressPolicy;
  /** Deadline for the whole dial, all attempts together. */
  readonly connectTimeoutMs: number;
  /** RFC 8305 "Connection Attempt Delay"; 250 ms in edge46. */
  readonly attemptDelayMs: number;
  readonly localAddress?: string;
  /**
   * Aborting destroys every attempt and rejects with `signal.reason` when that is a ProxyError, else with
   * EDGE_CLIENT_CLOSED (on the data path the client going away is what aborts a dial).
   */
  readonly signal?: AbortSignal;
  /** Hook for a socket prepared elsewhere (e.g. a NAT46 IP_FREEBIND socket). Default: a plain Socket. */
  readonly createSocket?: () => Socket;
}

export interface DialResult {
  readonly socket: Socket;
  readonly address: string;
  /** Connection attempts started (addresses refused by the policy are not counted). */
  readonly attempts: number;
  readonly durationMs: number;
}

export function dial(opts: DialOptions): Promise<DialResult> {
  return new Promise<DialResult>((resolve, reject) => {
    new Dial(opts, resolve, reject).start();
  });
}

interface Attempt {
  readonly address: string;
  readonly socket: Socket;
  readonly onConnect: () => void;
  readonly onError: (err: Error) => void;
}

const defaultSocket = (): Socket => new Socket({ allowHalfOpen: true });

class Dial {
  readonly #opts: DialOptions;
  readonly #resolve: (result: DialResult) => void;
  readonly #reject: (err: unknown) => void;
  readonly #startedAt = performance.now();
  readonly #active = new Set<Attempt>();
  /** One "[addr]:port reason" per address that did not connect, for the error message. */
  readonly #outcomes: string[] = [];
  readonly #errors: unknown[] = [];
  #next = 0;
  #started = 0;
  #settled = false;
  #staggerTimer: NodeJS.Timeout | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;
  readonly #onAbort = (): void => this.#abort();

  constructor(opts: DialOptions, resolve: (result: DialResult) => void, reject: (err: unknown) => void) {
    this.#opts = opts;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  start(): void {
    const { signal } = this.#opts;
    if (signal?.aborted === true) return this.#abort();
    signal?.addEventListener('abort', this.#onAbort, { once: true });
    this.#deadlineTimer = setTimeout(() => this.#timeout(), this.#opts.connectTimeoutMs);
    this.#startNext();
  }

  #label(address: string): string {
    return `[${address}]:${this.#opts.port}`;
  }

  /** Starts the next allowed address (skipping refused ones); settles when nothing is left to wait for. */
  #startNext(): void {
    clearTimeout(this.#staggerTimer);
    this.#staggerTimer = undefined;
    const { addresses, policy } = this.#opts;
    while (!this.#settled && this.#next < addresses.length) {
      const address = addresses[this.#next++] ?? '';
      const verdict = policy.check(address);
      if (!verdict.allowed) {
        this.#outcomes.push(`${this.#label(address)} refused by policy: ${verdict.reason}`);
        continue;
      }
      if (this.#launch(address)) {
        if (this.#next < addresses.length) {
          this.#staggerTimer = setTimeout(() => this.#startNext(), this.#opts.attemptDelayMs);
        }
        return;
      }
    }
    if (!this.#settled && this.#active.size === 0) this.#exhausted();
  }

  /** True when the attempt is in flight; false when it failed synchronously (already recorded). */
  #launch(address: string): boolean {
    this.#started++;
    let socket: Socket;
    try {
      socket = (this.#opts.createSocket ?? defaultSocket)();
    } catch (err) {
      this.#recordFailure(address, err);
      return false;
    }
    if (this.#settled) {
      // The hook ran into an abort (its own or the caller's): this socket was never an attempt.
      socket.destroy();
      return false;
    }
    const attempt: Attempt = {
      address,
      socket,
      onConnect: () => this.#won(attempt),
      onError: (err) => this.#failed(attempt, err),
    };
    socket.pause();
    socket.once('connect', attempt.onConnect);
    socket.on('error', attempt.onError);
    try {
      const { localAddress, port } = this.#opts;
      socket.connect({
        host: address,
        port,
        family: 6,
        ...(localAddress === undefined ? {} : { localAddress }),
      });
    } catch (err) {
      // Synchronous argument errors (bad localAddress, bad port) count as a failed attempt.
      socket.removeListener('connect', attempt.onConnect);
      socket.destroy();
      this.#recordFailure(address, err);
      return false;
    }
    this.#active.add(attempt);
    return true;
  }

  #recordFailure(address: string, err: unknown): void {
    this.#outcomes.push(`${this.#label(address)} ${errnoCode(err) ?? String(err)}`);
    this.#errors.push(err);
  }

  #failed(attempt: Attempt, err: unknown): void {
    if (this.#settled || !this.#active.delete(attempt)) return;
    attempt.socket.destroy();
    this.#recordFailure(attempt.address, err);
    this.#startNext();
  }

  #won(winner: Attempt): void {
    if (this.#settled) return;
    this.#active.delete(winner);
    this.#finish();
    const { socket } = winner;
    socket.removeListener('connect', winner.onConnect);
    socket.removeListener('error', winner.onError);
    socket.allowHalfOpen = true;
    socket.setNoDelay(true);
    this.#resolve({
      socket,
      address: winner.address,
      attempts: this.#started,
      durationMs: performance.now() - this.#startedAt,
    });
  }

  /** Every address was tried (or refused by the policy) and none connected. */
  #exhausted(): void {
    const list = this.#outcomes.join(', ');
    if (this.#started === 0) {
      const what =
        this.#opts.addresses.length === 0 ? 'no address to dial' : `no allowed address to dial: ${list}`;
      return this.#fail(new ProxyError('EDGE_BLOCKED_ADDRESS', what));
    }
    const allRefused = this.#errors.every((e) => errnoCode(e) === 'ECONNREFUSED');
    const cause = this.#errors.length === 1 ? this.#errors[0] : new AggregateError(this.#errors, list);
    this.#fail(
      allRefused
        ? new ProxyError('EDGE_CONNECT_REFUSED', `connection refused: ${list}`, cause)
        : new ProxyError('EDGE_CONNECT_FAILED', `connect failed: ${list}`, cause),
    );
  }

  #timeout(): void {
    if (this.#settled) return;
    for (const attempt of this.#active) this.#outcomes.push(`${this.#label(attempt.address)} timeout`);
    for (const address of this.#opts.addresses.slice(this.#next)) {
      this.#outcomes.push(`${this.#label(address)} not tried`);
    }
    const cause = this.#errors.length === 0 ? undefined : new AggregateError(this.#errors);
    const message = `connect timed out after ${this.#opts.connectTimeoutMs} ms: ${this.#outcomes.join(', ')}`;
    this.#fail(new ProxyError('EDGE_CONNECT_TIMEOUT', message, cause));
  }

  #abort(): void {
    if (this.#settled) return;
    const reason: unknown = this.#opts.signal?.reason;
    const tried = [...this.#active].map((a) => this.#label(a.address)).join(', ') || 'no attempt';
    this.#fail(
      reason instanceof ProxyError
        ? reason
        : new ProxyError('EDGE_CLIENT_CLOSED', `connect aborted (in progress: ${tried})`, reason),
    );
  }

  #fail(err: ProxyError): void {
    this.#finish();
    this.#reject(err);
  }

  /** Settles: no timers, no abort listener, every losing attempt destroyed. */
  #finish(): void {
    this.#settled = true;
    clearTimeout(this.#staggerTimer);
    clearTimeout(this.#deadlineTimer);
    this.#staggerTimer = undefined;
    this.#deadlineTimer = undefined;
    this.#opts.signal?.removeEventListener('abort', this.#onAbort);
    for (const attempt of this.#active) {
      attempt.socket.removeListener('connect', attempt.onConnect);
      attempt.socket.destroy();
    }
    this.#active.clear();
  }
}
