/**
 * IP addresses as bytes, for the places that work on the binary form: PROXY protocol v2 headers
 * (sniff/proxy-protocol.ts reads them, connect/proxy-header.ts writes them) and the address
 * translations of RFC 6052 (accept/nat64.ts extracts an IPv4 address from an IPv6 one, connect/nat46.ts
 * builds one). Text in, text out is canonical (RFC 5952 for IPv6, as node's SocketAddress prints it).
 */
import { isIPv4, isIPv6, SocketAddress } from 'node:net';

/** 4 bytes for dotted-quad IPv4 text; null for anything else (no leading zeros, no shorthand). */
export function ipv4ToBytes(text: string): Buffer | null {
  if (!isIPv4(text)) return null;
  const parts = text.split('.');
  if (parts.some((p) => p.length > 1 && p.startsWith('0'))) return null;
  return Buffer.from(parts.map(Number));
}

/** 16 bytes for IPv6 text (an embedded dotted IPv4 tail is allowed, a zone id is not); else null. */
export function ipv6ToBytes(text: string): Buffer | null {
  if (!isIPv6(text) || text.includes('%')) return null;
  let hex = text;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    const v4 = ipv4ToBytes(text.slice(lastColon + 1));
    if (v4 === null) return null;
    hex = `${text.slice(0, lastColon + 1)}${v4.readUInt16BE(0).toString(16)}:${v4.readUInt16BE(2).toString(16)}`;
  }
  const parse = (part: string): number[] =>
    part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16));
  const halves = hex.split('::');
  const left = parse(halves[0] ?? '');
  const right = halves.length > 1 ? parse(halves[1] ?? '') : [];
  const groups = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  if (groups.length !== 8) return null;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

export function bytesToIpv4(bytes: Uint8Array): string {
  return `${bytes[0] ?? 0}.${bytes[1] ?? 0}.${bytes[2] ?? 0}.${bytes[3] ?? 0}`;
}

/** Canonical text of 16 address bytes. */
export function bytesToIpv6(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return new SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:0:0/96), else null. */
export function unmapIpv4(text: string): string | null {
  const bytes = ipv6ToBytes(text);
  if (bytes === null) return null;
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return null;
  if (bytes[10] !== 0xff || bytes[11] !== 0xff) return null;
  return bytesToIpv4(bytes.subarray(12));
}

/** 4 or 6 for an IPv4 / IPv6 literal (zone ids refused), 0 otherwise. */
export function ipFamily(text: string): 0 | 4 | 6 {
  if (isIPv4(text)) return 4;
  if (isIPv6(text) && !text.includes('%')) return 6;
  return 0;
}
