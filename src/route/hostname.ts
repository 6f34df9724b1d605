/**
 * Host name normalisation shared by every path that routes on a name from the wire (SNI, Host,
 * :authority). Pure functions; the route table only ever sees names that passed `normalizeHostname`.
 */
import { isIP } from 'node:net';

export type HostnameResult =
  | { readonly ok: true; readonly name: string }
  | { readonly ok: false; readonly reason: string; readonly ipLiteral: boolean };

const MAX_NAME = 253; // RFC 1035 §2.3.4: 255 octets on the wire = 253 characters in text form
const MAX_LABEL = 63;
// LDH labels (RFC 5890 §2.3.1): letters, digits, hyphen; no hyphen at either end. Underscore is
// accepted because Kubernetes SRV-style names (_http._tcp…) and some service names carry it.
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/**
 * Lowercases and validates a host name. `allowTrailingDot` is false for SNI (RFC 6066 §3: "without a
 * trailing dot") and true for Host headers, where a fully qualified "name." is legitimate.
 */
export function normalizeHostname(raw: string, opts: { allowTrailingDot?: boolean } = {}): HostnameResult {
  if (raw.length === 0) return { ok: false, reason: 'empty name', ipLiteral: false };
  const unbracketed = raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1) : raw;
  if (isIP(unbracketed) !== 0) return { ok: false, reason: 'IP literals are never routed', ipLiteral: true };
  let name = raw.toLowerCase();
  if (name.endsWith('.')) {
    if (opts.allowTrailingDot !== true) return { ok: false, reason: 'trailing dot', ipLiteral: false };
    name = name.slice(0, -1);
  }
  if (name.length === 0 || name.length > MAX_NAME)
    return { ok: false, reason: 'name length', ipLiteral: false };
  const labels = name.split('.');
  for (const label of labels) {
    if (label.length === 0) return { ok: false, reason: 'empty label', ipLiteral: false };
    if (label.length > MAX_LABEL) return { ok: false, reason: 'label longer than 63', ipLiteral: false };
    if (!LABEL.test(label)) return { ok: false, reason: 'not a valid LDH label', ipLiteral: false };
  }
  // A name whose last label is all digits is an IPv4 literal in disguise (e.g. "1.2.3.4" variants).
  if (/^[0-9]+$/.test(labels[labels.length - 1] ?? '')) {
    return { ok: false, reason: 'numeric top-level label', ipLiteral: true };
  }
  return { ok: true, name };
}

/** Escapes control and non-ASCII characters so a name from the wire is safe in a log line. */
export function escapeForLog(raw: string, maxLength = 256): string {
  let out = '';
  for (const ch of raw.slice(0, maxLength)) {
    const code = ch.codePointAt(0) ?? 0;
    out += code < 0x20 || code >= 0x7f || ch === '\\' ? `\\x{${code.toString(16)}}` : ch;
  }
  return raw.length > maxLength ? `${out}…` : out;
}
