/**
 * Session ticket keys (RFC 5077; RFC 8446 §4.6.1 for TLS 1.3), in memory only, rotated on a timer.
 * Every server SecureContext shares them, so a ticket works whichever certificate the next connection
 * selects. The previous key still decrypts (and the ticket is renewed under the current one), so a
 * rotation never turns a fresh ticket into a full handshake.
 *
 * Keys are derived, not drawn: key(n) = HKDF-SHA256(seed, n) for the n-th rotation period since the
 * epoch. Processes given the same seed (the cluster primary hands one to every worker) use the same
 * key at the same time without talking to each other, so a ticket from one worker resumes on another.
 * Without a seed, each process draws its own.
 *
 * Node's public API (setTicketKeys) holds one key per context. Keeping the previous one needs the
 * ticket key callback that node's SecureContext has (`enableTicketKeyCallback` /
 * `onticketkeycallback`, the hook node's own test suite uses); when a runtime lacks it, the single key
 * is installed with setTicketKeys and a rotation costs tickets issued under the old key one full
 * handshake.
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import type { SecureContext } from 'node:tls';

/** name (16) | HMAC-SHA256 key (16) | AES-128-CBC key (16): node's 48-byte layout. */
const KEY_BYTES = 48;
const SEED_BYTES = 32;

// Return values of the callback (OpenSSL SSL_CTX_set_tlsext_ticket_key_cb): 1 use, 2 use and renew,
// 0 unknown key (full handshake).
const TICKET_OK = 1;
const TICKET_RENEW = 2;
const TICKET_UNKNOWN = 0;

type TicketKeyResult = [number, Buffer, Buffer] | [number, Buffer, Buffer, Buffer, Buffer];

/** The internal shape of `SecureContext.context` this module relies on (feature-detected). */
interface NativeContext {
  setTicketKeys(keys: Buffer): void;
  enableTicketKeyCallback?: () => void;
  onticketkeycallback?: (name: Buffer, iv: Buffer, encrypt: boolean) => TicketKeyResult;
}

export interface TicketKeyOptions {
  /** Shared secret the keys are derived from (at least 32 bytes); default: random per process. */
  readonly seed?: Buffer;
  readonly now?: () => number;
}

/** A fresh seed for processes that must share ticket keys. */
export function newTicketSeed(): Buffer {
  return randomBytes(SEED_BYTES);
}

export class TicketKeys {
  private readonly seed: Buffer;
  private readonly now: () => number;
  /** Rotations forced by rotate() on top of the clock (tests). */
  private skipped = 0;
  private period = Number.NaN;
  private current: Buffer = Buffer.alloc(KEY_BYTES);
  private previous: Buffer = Buffer.alloc(KEY_BYTES);
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Contexts that took the single-key fallback and must be told about a rotation. */
  private readonly fallbacks = new Set<WeakRef<NativeContext>>();
  private readonly dummy = Buffer.alloc(16);
  rotations = 0;

  constructor(
    private readonly rotationMs: number,
    opts: TicketKeyOptions = {},
  ) {
    if (opts.seed !== undefined && opts.seed.length < SEED_BYTES) {
      throw new Error(`ticket key seed must be at least ${SEED_BYTES} bytes`);
    }
    this.seed = opts.seed ?? newTicketSeed();
    this.now = opts.now ?? Date.now;
    this.refresh();
  }

  /** Starts rotating at period boundaries (the timer is unref'd: it never keeps the process alive). */
  start(): void {
    if (this.timer !== undefined || this.closed) return;
    this.schedule();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Makes `secure` issue and accept tickets under the shared keys. */
  install(secure: SecureContext): void {
    // @types/node types `context` as any; this module only uses the members NativeContext names.
    const native = secure.context as NativeContext;
    if (typeof native.enableTicketKeyCallback === 'function') {
      native.enableTicketKeyCallback();
      native.onticketkeycallback = (name, _iv, encrypt) => this.callback(name, encrypt);
      return;
    }
    native.setTicketKeys(this.current);
    this.fallbacks.add(new WeakRef(native));
  }

  /** Moves on to the next key now, as a period boundary would (the current one becomes the previous). */
  rotate(): void {
    this.skipped++;
    this.refresh();
  }

  /** Whether tickets under the previous key are still accepted (false in the single-key fallback). */
  get keepsPrevious(): boolean {
    return this.fallbacks.size === 0;
  }

  private schedule(): void {
    const untilNext = this.rotationMs - (this.now() % this.rotationMs);
    this.timer = setTimeout(() => {
      this.refresh();
      this.schedule();
    }, untilNext + 1);
    this.timer.unref();
  }

  /** Derives the keys of the current period; a change of period is a rotation. */
  private refresh(): void {
    const period = Math.floor(this.now() / this.rotationMs) + this.skipped;
    if (period === this.period) return;
    const first = Number.isNaN(this.period);
    const wasCurrent = this.current;
    const consecutive = period === this.period + 1;
    this.period = period;
    this.current = this.derive(period);
    this.previous = consecutive ? wasCurrent : this.derive(period - 1);
    if (!first) this.rotations++;
    for (const ref of this.fallbacks) {
      const native = ref.deref();
      if (native === undefined) this.fallbacks.delete(ref);
      else native.setTicketKeys(this.current);
    }
  }

  private derive(period: number): Buffer {
    const info = Buffer.alloc(8);
    info.writeBigInt64BE(BigInt(period));
    return Buffer.from(hkdfSync('sha256', this.seed, 'edge46 session ticket key', info, KEY_BYTES));
  }

  private callback(name: Buffer, encrypt: boolean): TicketKeyResult {
    if (encrypt) {
      const key = this.current;
      return [TICKET_OK, key.subarray(16, 32), key.subarray(32, 48), key.subarray(0, 16), randomBytes(16)];
    }
    if (name.equals(this.current.subarray(0, 16))) {
      return [TICKET_OK, this.current.subarray(16, 32), this.current.subarray(32, 48)];
    }
    if (name.equals(this.previous.subarray(0, 16))) {
      return [TICKET_RENEW, this.previous.subarray(16, 32), this.previous.subarray(32, 48)];
    }
    return [TICKET_UNKNOWN, this.dummy, this.dummy];
  }
}
