/**
 * PROXY protocol headers edge46 sends to a backend before any other byte (haproxy's
 * proxy-protocol.txt §2.1 and §2.2), so an IPv6-only backend learns the IPv4 client behind edge46.
 *
 * Families: the spec wants source and destination of one family. An IPv4 client is always sent as
 * TCP4 / AF_INET with its IPv4 address, never as TCP6 with `::ffff:a.b.c.d` (sniproxy's long-standing
 * bug, which Apache's mod_remoteip and others reject): IPv4-mapped input is unmapped first. When the
 * families still differ, the destination (the edge's own address the client reached) is what changes:
 * - IPv4 client, IPv6 destination (the edge behind a NAT64/SIIT, or a client address taken from a
 *   NAT64 prefix or an accepted PROXY header): the destination becomes `ipv4Destination` (the caller
 *   passes the listener's IPv4 address when it has one) or else 0.0.0.0, with the real port. The
 *   client's address is what backends act on; the destination is informational.
 * - IPv6 client, IPv4 destination (only possible through a translator in front): the destination is
 *   sent IPv4-mapped (::ffff:a.b.c.d) in TCP6, the one spelling of an IPv4 address in that family.
 */
import { ipFamily, ipv4ToBytes, ipv6ToBytes, unmapIpv4 } from '../ip.js';
import { PP2_SIGNATURE, PP2_TYPE_ALPN, PP2_TYPE_AUTHORITY } from '../sniff/proxy-protocol.js';

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

export interface FamilyOptions {
  /** IPv4 destination used when the client is IPv4 but the address it reached is IPv6. Default 0.0.0.0. */
  readonly ipv4Destination?: string;
}

export interface ProxyV2Options extends FamilyOptions {
  /** PP2_TYPE_ALPN value: the application protocol, e.g. "h2" (bytes are sent as given). */
  readonly alpn?: string | Uint8Array;
  /** PP2_TYPE_AUTHORITY value: the host name the client asked for (TLS SNI or HTTP Host), UTF-8. */
  readonly authority?: string;
}

export type ProxyProtocolVersion = 'v1' | 'v2';

export interface AlignedEndpoints {
  readonly family: 4 | 6;
  readonly source: Endpoint;
  readonly destination: Endpoint;
}

/** Unmaps IPv4-mapped addresses and resolves a family mismatch as described in the module comment. */
export function alignFamilies(
  source: Endpoint,
  destination: Endpoint,
  opts: FamilyOptions = {},
): AlignedEndpoints {
  const src = plainEndpoint(source, 'source');
  const dst = plainEndpoint(destination, 'destination');
  const srcFamily = ipFamily(src.address);
  const dstFamily = ipFamily(dst.address);
  if (srcFamily === dstFamily) return { family: srcFamily === 4 ? 4 : 6, source: src, destination: dst };
  if (srcFamily === 4) {
    const fallback = opts.ipv4Destination ?? '0.0.0.0';
    if (ipv4ToBytes(fallback) === null)
      throw new TypeError(`ipv4Destination ${fallback} is not an IPv4 address`);
    return { family: 4, source: src, destination: { address: fallback, port: dst.port } };
  }
  return { family: 6, source: src, destination: { address: `::ffff:${dst.address}`, port: dst.port } };
}

function plainEndpoint(endpoint: Endpoint, what: string): Endpoint {
  const { address, port } = endpoint;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new TypeError(`${what} port ${port} is invalid`);
  const family = ipFamily(address);
  if (family === 0) throw new TypeError(`${what} ${JSON.stringify(address)} is not an IP address`);
  if (family === 4) {
    if (ipv4ToBytes(address) === null) throw new TypeError(`${what} ${address} has leading zeros`);
    return { address, port };
  }
  const unmapped = unmapIpv4(address);
  return { address: unmapped ?? address, port };
}

/** "PROXY TCP4 src dst sport dport\r\n" (or TCP6), at most 104 bytes. */
export function encodeProxyV1(source: Endpoint, destination: Endpoint, opts: FamilyOptions = {}): Buffer {
  const { family, source: s, destination: d } = alignFamilies(source, destination, opts);
  const text = family === 4 ? (a: string): string => a : (a: string): string => ipv6Text(a);
  return Buffer.from(
    `PROXY TCP${family} ${text(s.address)} ${text(d.address)} ${s.port} ${d.port}\r\n`,
    'latin1',
  );
}

/** The binary header: PROXY command, TCP over AF_INET (0x11) or AF_INET6 (0x21), then the TLVs. */
export function encodeProxyV2(source: Endpoint, destination: Endpoint, opts: ProxyV2Options = {}): Buffer {
  const { family, source: s, destination: d } = alignFamilies(source, destination, opts);
  const addressBytes = family === 4 ? 12 : 36;
  const tlvs: Buffer[] = [];
  if (opts.alpn !== undefined) tlvs.push(tlv(PP2_TYPE_ALPN, toBytes(opts.alpn)));
  if (opts.authority !== undefined) tlvs.push(tlv(PP2_TYPE_AUTHORITY, Buffer.from(opts.authority, 'utf8')));
  const len = addressBytes + tlvs.reduce((sum, b) => sum + b.length, 0);
  if (len > 0xffff) throw new RangeError(`PROXY v2 header body of ${len} bytes exceeds 65535`);
  const header = Buffer.alloc(16 + addressBytes);
  PP2_SIGNATURE.copy(header, 0);
  header[12] = 0x21; // version 2, command PROXY
  header[13] = family === 4 ? 0x11 : 0x21; // AF_INET / AF_INET6, STREAM
  header.writeUInt16BE(len, 14);
  const bytes = family === 4 ? ipv4ToBytes : ipv6ToBytes;
  const size = family === 4 ? 4 : 16;
  (bytes(s.address) ?? Buffer.alloc(size)).copy(header, 16);
  (bytes(d.address) ?? Buffer.alloc(size)).copy(header, 16 + size);
  header.writeUInt16BE(s.port, 16 + 2 * size);
  header.writeUInt16BE(d.port, 18 + 2 * size);
  return tlvs.length === 0 ? header : Buffer.concat([header, ...tlvs]);
}

export function encodeProxyHeader(
  version: ProxyProtocolVersion,
  source: Endpoint,
  destination: Endpoint,
  opts: ProxyV2Options = {},
): Buffer {
  return version === 'v1'
    ? encodeProxyV1(source, destination, opts)
    : encodeProxyV2(source, destination, opts);
}

function tlv(type: number, value: Uint8Array): Buffer {
  if (value.length > 0xffff)
    throw new RangeError(`TLV 0x${type.toString(16)} of ${value.length} bytes exceeds 65535`);
  const head = Buffer.alloc(3);
  head[0] = type;
  head.writeUInt16BE(value.length, 1);
  return Buffer.concat([head, value]);
}

function toBytes(value: string | Uint8Array): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'latin1') : Buffer.from(value);
}

/**
 * v1 IPv6 text: canonical, but never with a dotted IPv4 tail (the spec wants hexadecimal groups; node
 * prints ::ffff:192.0.2.1 for mapped addresses).
 */
function ipv6Text(address: string): string {
  const b = ipv6ToBytes(address);
  if (b === null) throw new TypeError(`${address} is not an IPv6 address`);
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  // RFC 5952 §4.2.3: the longest run of two or more zero groups (the first one on a tie) becomes "::".
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (best === -1) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}
