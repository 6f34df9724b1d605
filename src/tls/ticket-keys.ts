/**
 * Session ticket keys (RFC 5077; RFC 8446 §4.6.1 for TLS 1.3), in memory only, rotated on a timer.
 * Every server SecureContext shares them, so a ticket works whichever certificate the next connection
 * selects. The previous key still decrypts (and the ticket is renewed under the current one), so a
 * rotation never turns a fresh ticket into a full handshake.
 *
 * Node's public API (setTicketKeys) holds one key per context. Keeping the previous one needs the
 * ticket key callback that node's SecureContext has (`enableTicketKeyCallback` /
 * `onticketkeycallback`, the hook node's own test suite uses); when a runtime lacks it, the single key
 * is installed with setTicketKeys and a rotation costs tickets issued under the old key one full
 * handshake.
 */
import { randomBytes } from 'node:crypto';
import type { SecureContext } from 'node:tls';

/** name (16) | HMAC-SHA256 key (16) | AES-128-CBC key (16): node's 48-byte layout. */
const KEY_BYTES = 48;

// Return values of the callback (OpenSSL SSL_CTX_set_tlsext_ticket_key_cb): 1 use, 2 use and renew,
// 0 unknown key (full handshake), -1 failure.
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

export class TicketKeys {
  private current: Buffer;
  private previous: Buffer | null = null;
  private timer: NodeJS.Timeout | undefined;
  /** Contexts that took the single-key fallback and must be told about a rotation. */
  private readonly fallbacks = new Set<WeakRef<NativeContext>>();
  private readonly dummy = Buffer.alloc(16);
  rotations = 0;

  constructor(private readonly rotationMs: number) {
    this.current = randomBytes(KEY_BYTES);
  }

  /** Starts the rotation timer (unref'd: it never keeps the process alive). */
  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.rotate(), this.rotationMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
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

  /** The current key becomes the previous one (still accepted); a new random key issues tickets. */
  rotate(): void {
    this.previous = this.current;
    this.current = randomBytes(KEY_BYTES);
    this.rotations++;
    for (const ref of this.fallbacks) {
      const native = ref.deref();
      if (native === undefined) this.fallbacks.delete(ref);
      else native.setTicketKeys(this.current);
    }
  }

  /** Whether tickets under the previous key are still accepted (false in the single-key fallback). */
  get keepsPrevious(): boolean {
    return this.fallbacks.size === 0;
  }

  private callback(name: Buffer, encrypt: boolean): TicketKeyResult {
    if (encrypt) {
      const key = this.current;
      return [TICKET_OK, key.subarray(16, 32), key.subarray(32, 48), key.subarray(0, 16), randomBytes(16)];
    }
    if (name.equals(this.current.subarray(0, 16))) {
      return [TICKET_OK, this.current.subarray(16, 32), this.current.subarray(32, 48)];
    }
    const previous = this.previous;
    if (previous !== null && name.equals(previous.subarray(0, 16))) {
      return [TICKET_RENEW, previous.subarray(16, 32), previous.subarray(32, 48)];
    }
    return [TICKET_UNKNOWN, this.dummy, this.dummy];
  }
}
