/**
 * IPv4-embedded IPv6 addresses (RFC 6052 §2.2). When edge46 itself is IPv6-only behind a NAT64/SIIT
 * translator (Jool SIIT-DC and the like), IPv4 clients arrive as e.g. 64:ff9b::c000:20a; a listener's
 * `clientNat64Prefixes` names the translator's prefixes so that the embedded IPv4 address counts as the
 * client's (logs, forwarding headers, PROXY TCP4, NAT46 sources). connect/nat46.ts builds its source
 * addresses with the same layout at /96.
 *
 * Layout (bits of the IPv6 address; u = bits 64–71, always skipped):
 *   /32  prefix(0–31)   v4(32–63)                  u  suffix
 *   /40  prefix(0–39)   v4[0..2](40–63)            u  v4[3](72–79)     suffix
 *   /48  prefix(0–47)   v4[0..1](48–63)            u  v4[2..3](72–87)  suffix
 *   /56  prefix(0–55)   v4[0](56–63)               u  v4[1..3](72–95)  suffix
 *   /64  prefix(0–63)                              u  v4(72–103)       suffix
 *   /96  prefix(0–95)                                 v4(96–127)
 *
 * On extraction the u-octet and the suffix are ignored (§2.2 says senders set them to zero; a receiver
 * gains nothing by refusing). Configured prefixes must have no bits set past their length, and a /96
 * prefix must have the u-octet zero, as §2.2 requires of the administrator.
 */
import { bytesToIpv4, ipv4ToBytes, ipv6ToBytes, bytesToIpv6 } from '../ip.js';

export const NAT64_PREFIX_LENGTHS = [32, 40, 48, 56, 64, 96] as const;
export type Nat64PrefixLength = (typeof NAT64_PREFIX_LENGTHS)[number];

export interface Nat64Prefix {
  /** Canonical "address/length". */
  readonly text: string;
  readonly length: Nat64PrefixLength;
  /** The 16 bytes of the prefix address (zero past `length`). */
  readonly bytes: Buffer;
}

export type PrefixParse =
  { readonly ok: true; readonly prefix: Nat64Prefix } | { readonly ok: false; readonly reason: string };

/** The well-known prefix of RFC 6052 §2.1. */
export const WELL_KNOWN_PREFIX = '64:ff9b::/96';

const U_OCTET = 8;

export function parseNat64Prefix(
  text: string,
  allowed: readonly number[] = NAT64_PREFIX_LENGTHS,
): PrefixParse {
  const slash = text.indexOf('/');
  if (slash === -1) return { ok: false, reason: `"${text}" has no prefix length (want e.g. "64:ff9b::/96")` };
  const bytes = ipv6ToBytes(text.slice(0, slash));
  if (bytes === null) return { ok: false, reason: `"${text}" is not an IPv6 prefix` };
  const lengthText = text.slice(slash + 1);
  const length = Number(lengthText);
  if (!/^[0-9]{1,3}$/.test(lengthText) || !allowed.includes(length)) {
    return {
      ok: false,
      reason: `"${text}": prefix length must be one of ${allowed.map((n) => `/${n}`).join(', ')} (RFC 6052 §2.2)`,
    };
  }
  for (let i = length / 8; i < 16; i++) {
    if (bytes[i] !== 0) return { ok: false, reason: `"${text}" has bits set past /${length}` };
  }
  if (length === 96 && bytes[U_OCTET] !== 0) {
    return { ok: false, reason: `"${text}": bits 64–71 (the u-octet) must be zero (RFC 6052 §2.2)` };
  }
  return {
    ok: true,
    prefix: { text: `${bytesToIpv6(bytes)}/${length}`, length: length as Nat64PrefixLength, bytes },
  };
}

function toPrefix(prefix: Nat64Prefix | string): Nat64Prefix {
  if (typeof prefix !== 'string') return prefix;
  const parsed = parseNat64Prefix(prefix);
  if (!parsed.ok) throw new TypeError(parsed.reason);
  return parsed.prefix;
}

/** Byte indexes of the four IPv4 octets for a prefix length: from length/8 on, skipping the u-octet. */
function octetPositions(length: Nat64PrefixLength): number[] {
  const positions: number[] = [];
  let pos = length / 8;
  while (positions.length < 4) {
    if (pos === U_OCTET) pos++;
    positions.push(pos++);
  }
  return positions;
}

/**
 * The IPv4 address embedded in `address` when it lies inside one of `prefixes` (the first that matches),
 * else null. `address` may be any IPv6 text; anything else (IPv4, garbage) gives null.
 */
export function extractEmbeddedIpv4(
  address: string,
  prefixes: readonly (Nat64Prefix | string)[],
): string | null {
  if (prefixes.length === 0) return null;
  const bytes = ipv6ToBytes(address);
  if (bytes === null) return null;
  for (const entry of prefixes) {
    const prefix = toPrefix(entry);
    if (!bytes.subarray(0, prefix.length / 8).equals(prefix.bytes.subarray(0, prefix.length / 8))) continue;
    const v4 = Buffer.from(octetPositions(prefix.length).map((p) => bytes[p] ?? 0));
    return bytesToIpv4(v4);
  }
  return null;
}

/** The IPv6 address that embeds `ipv4` in `prefix` (u-octet and suffix zero), canonical text. */
export function embedIpv4(prefix: Nat64Prefix | string, ipv4: string): string {
  const p = toPrefix(prefix);
  const v4 = ipv4ToBytes(ipv4);
  if (v4 === null) throw new TypeError(`${ipv4} is not an IPv4 address`);
  const out = Buffer.alloc(16);
  p.bytes.copy(out, 0, 0, p.length / 8);
  octetPositions(p.length).forEach((pos, i) => (out[pos] = v4[i] ?? 0));
  return bytesToIpv6(out);
}
