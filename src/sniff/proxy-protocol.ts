/**
 * PROXY protocol header sniffer (haproxy's proxy-protocol.txt, versions 1 and 2): a pure function from
 * the bytes a load balancer has sent so far to the connection endpoints it announces. Same shape as the
 * TLS sniffer (STYLE.md §2): `need-more` on a short buffer, `invalid` with a reason, never an exception.
 *
 * Version 1 (§2.1): one US-ASCII line, at most 107 bytes with its CRLF:
 *   "PROXY" SP ("TCP4" | "TCP6") SP src SP dst SP srcport SP dstport CRLF,  or  "PROXY UNKNOWN" … CRLF
 * Version 2 (§2.2): 16-byte header, then `len` bytes of addresses and TLVs:
 *   sig(12) = 0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A · ver_cmd(1) = 0x2? · fam(1) · len(2, big-endian)
 *   AF_INET+STREAM (0x11): src(4) dst(4) sport(2) dport(2) · AF_INET6+STREAM (0x21): 16+16+2+2
 *   TLVs: type(1) length(2, big-endian) value(length), filling the rest of `len` exactly.
 *
 * Decisions beyond the spec's letter:
 * - Only TCP over IPv4/IPv6 yields addresses. UNSPEC, UDP and AF_UNIX blocks are skipped (the spec lets a
 *   receiver fall back to UNSPEC for combinations it does not support) and reported as family 'unknown':
 *   the caller then uses the real peer, as for "PROXY UNKNOWN" and the LOCAL command.
 * - TLVs must tile the remainder exactly; a TLV running past `len` is invalid (haproxy rejects it too).
 *   A repeated type keeps its first value. PP2_TYPE_CRC32C, when present, is verified (§2.2.3: a receiver
 *   that supports it MUST reject a mismatch).
 * - Version 1 addresses must match the announced family; IPv4 without leading zeros, ports without
 *   leading zeros (§2.1), IPv6 in any RFC 4291 text form but without a zone id.
 */
import { isIPv4 } from 'node:net';
import { bytesToIpv4, bytesToIpv6, ipv6ToBytes } from '../ip.js';
import { needMore, sniffDone, sniffInvalid, type SniffResult, type Sniffer } from './sniffer.js';

export interface ProxyEndpoint {
  /** Canonical text: dotted quad, or RFC 5952 IPv6. */
  readonly address: string;
  readonly port: number;
}

export interface ProxyHeader {
  readonly version: 1 | 2;
  /** 'local': a health check by the proxy itself (v2 only); use the real connection endpoints. */
  readonly command: 'proxy' | 'local';
  /** What the header announced; only tcp4/tcp6 with command 'proxy' carry source and destination. */
  readonly family: 'tcp4' | 'tcp6' | 'unknown';
  readonly source?: ProxyEndpoint;
  readonly destination?: ProxyEndpoint;
  /** v2 TLVs by type (first occurrence); empty for v1. */
  readonly tlvs: ReadonlyMap<number, Buffer>;
  /** Bytes the header occupies at the start of the input; what follows belongs to the proxied stream. */
  readonly headerLength: number;
}

export const PP2_SIGNATURE = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);
export const PP2_HEADER_LENGTH = 16;
/** §2.1: the longest v1 line, CRLF included ("PROXY UNKNOWN" with two full IPv6 addresses). */
export const PP1_MAX_LENGTH = 107;

export const PP2_TYPE_ALPN = 0x01;
export const PP2_TYPE_AUTHORITY = 0x02;
export const PP2_TYPE_CRC32C = 0x03;
export const PP2_TYPE_NOOP = 0x04;
export const PP2_TYPE_UNIQUE_ID = 0x05;

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const CR = 0x0d;
const LF = 0x0a;

type Result = SniffResult<ProxyHeader>;

const bad = (reason: string): Result => sniffInvalid('EDGE_BAD_PROXY_HEADER', reason);

/**
 * Bound on a v2 header (16 + len) that edge46 accepts: the spec only promises that the address block
 * fits one 536-byte segment; TLVs from real load balancers (AWS, GCP, haproxy) stay far below this.
 */
export const PP2_MAX_ACCEPTED_LENGTH = 4096;

/** Decodes a PROXY v1 or v2 header at the start of `input`. */
export function parseProxyHeader(input: Buffer, maxV2Length = PP2_MAX_ACCEPTED_LENGTH): Result {
  if (input.length === 0) return needMore();
  if (input[0] === CR) return parseV2(input, maxV2Length);
  if (input[0] === V1_PREFIX[0]) return parseV1(input);
  return bad('not a PROXY protocol header (neither the v2 signature nor "PROXY ")');
}

export function createProxyHeaderSniffer(): Sniffer<ProxyHeader> {
  return { protocol: 'proxy-protocol', sniff: (input) => parseProxyHeader(input) };
}

/** True when `input` is a proper prefix of `expected` or starts with all of it; false on a mismatch. */
function matchesPrefix(input: Buffer, expected: Buffer): boolean {
  const n = Math.min(input.length, expected.length);
  return input.subarray(0, n).equals(expected.subarray(0, n));
}

function parseV1(input: Buffer): Result {
  if (!matchesPrefix(input, V1_PREFIX)) return bad('v1: does not start with "PROXY "');
  const limit = Math.min(input.length, PP1_MAX_LENGTH);
  let end = -1;
  for (let i = 0; i < limit; i++) {
    const byte = input[i] ?? 0;
    if (byte === LF) {
      if (i === 0 || input[i - 1] !== CR) return bad('v1: LF without CR');
      end = i - 1;
      break;
    }
    if (byte === CR && i + 1 < input.length && input[i + 1] !== LF) return bad('v1: CR without LF');
    if (byte !== CR && (byte < 0x20 || byte > 0x7e))
      return bad(`v1: byte 0x${byte.toString(16)} in the line`);
  }
  if (end === -1) {
    if (input.length >= PP1_MAX_LENGTH) return bad(`v1: no CRLF in the first ${PP1_MAX_LENGTH} bytes`);
    return needMore();
  }
  const headerLength = end + 2;
  const fields = input.toString('latin1', 0, end).split(' ');
  const proto = fields[1];
  if (proto === 'UNKNOWN') {
    // §2.1: "the receiver must ignore anything presented before the CRLF is found".
    return sniffDone({ version: 1, command: 'proxy', family: 'unknown', tlvs: new Map(), headerLength });
  }
  if (proto !== 'TCP4' && proto !== 'TCP6') return bad(`v1: unknown protocol ${JSON.stringify(proto ?? '')}`);
  if (fields.length !== 6)
    return bad(`v1: ${fields.length - 2} fields after ${proto}, want 4 (single spaces)`);
  const [, , srcText = '', dstText = '', sportText = '', dportText = ''] = fields;
  const family = proto === 'TCP4' ? 'tcp4' : 'tcp6';
  const src = v1Address(srcText, family);
  const dst = v1Address(dstText, family);
  if (src === null) return bad(`v1: source ${JSON.stringify(srcText)} is not an ${proto} address`);
  if (dst === null) return bad(`v1: destination ${JSON.stringify(dstText)} is not an ${proto} address`);
  const sport = v1Port(sportText);
  const dport = v1Port(dportText);
  if (sport === null) return bad(`v1: source port ${JSON.stringify(sportText)} is invalid`);
  if (dport === null) return bad(`v1: destination port ${JSON.stringify(dportText)} is invalid`);
  return sniffDone({
    version: 1,
    command: 'proxy',
    family,
    source: { address: src, port: sport },
    destination: { address: dst, port: dport },
    tlvs: new Map(),
    headerLength,
  });
}

function v1Address(text: string, family: 'tcp4' | 'tcp6'): string | null {
  if (family === 'tcp4') {
    if (!isIPv4(text) || text.split('.').some((p) => p.length > 1 && p.startsWith('0'))) return null;
    return text;
  }
  const bytes = ipv6ToBytes(text);
  return bytes === null ? null : bytesToIpv6(bytes);
}

function v1Port(text: string): number | null {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text)) return null;
  const port = Number(text);
  return port <= 65535 ? port : null;
}

function parseV2(input: Buffer, maxLength: number): Result {
  if (!matchesPrefix(input, PP2_SIGNATURE)) return bad('v2: wrong signature');
  if (input.length < PP2_HEADER_LENGTH) return needMore();
  const verCmd = input[12] ?? 0;
  if (verCmd >> 4 !== 2) return bad(`v2: version ${verCmd >> 4}, want 2`);
  const cmd = verCmd & 0x0f;
  if (cmd > 1) return bad(`v2: unassigned command 0x${cmd.toString(16)}`);
  const fam = input[13] ?? 0;
  const af = fam >> 4;
  const transport = fam & 0x0f;
  if (af > 3) return bad(`v2: unassigned address family 0x${af.toString(16)}`);
  if (transport > 2) return bad(`v2: unassigned transport protocol 0x${transport.toString(16)}`);
  const len = input.readUInt16BE(14);
  const headerLength = PP2_HEADER_LENGTH + len;
  if (headerLength > maxLength)
    return bad(`v2: header of ${headerLength} bytes exceeds the ${maxLength}-byte limit`);
  if (input.length < headerLength) return needMore();

  // AF_UNSPEC: 0 address bytes; AF_INET: 12; AF_INET6: 36; AF_UNIX: 216 (no ports).
  const addressBytes = [0, 12, 36, 216][af] ?? 0;
  if (len < addressBytes)
    return bad(`v2: length ${len} is shorter than the ${addressBytes}-byte address block`);
  const tlvs = parseTlvs(input, PP2_HEADER_LENGTH + addressBytes, headerLength);
  if (typeof tlvs === 'string') return bad(`v2: ${tlvs}`);
  const crc = tlvs.get(PP2_TYPE_CRC32C);
  if (crc !== undefined) {
    const problem = checkCrc32c(input.subarray(0, headerLength), crc);
    if (problem !== null) return bad(`v2: ${problem}`);
  }

  const command: ProxyHeader['command'] = cmd === 0 ? 'local' : 'proxy';
  const base = { version: 2 as const, command, tlvs, headerLength };
  // §2.2: LOCAL "must discard the protocol block including the family".
  if (command === 'local' || transport !== 1 || (af !== 1 && af !== 2)) {
    return sniffDone({ ...base, family: 'unknown' });
  }
  const o = PP2_HEADER_LENGTH;
  if (af === 1) {
    return sniffDone({
      ...base,
      family: 'tcp4',
      source: { address: bytesToIpv4(input.subarray(o, o + 4)), port: input.readUInt16BE(o + 8) },
      destination: { address: bytesToIpv4(input.subarray(o + 4, o + 8)), port: input.readUInt16BE(o + 10) },
    });
  }
  return sniffDone({
    ...base,
    family: 'tcp6',
    source: { address: bytesToIpv6(input.subarray(o, o + 16)), port: input.readUInt16BE(o + 32) },
    destination: { address: bytesToIpv6(input.subarray(o + 16, o + 32)), port: input.readUInt16BE(o + 34) },
  });
}

/** The TLVs in [start, end), or a reason when they do not tile the range exactly. */
function parseTlvs(input: Buffer, start: number, end: number): Map<number, Buffer> | string {
  const tlvs = new Map<number, Buffer>();
  let pos = start;
  while (pos < end) {
    if (end - pos < 3) return `${end - pos} trailing byte(s) after the TLVs, less than a TLV header`;
    const type = input[pos] ?? 0;
    const length = input.readUInt16BE(pos + 1);
    const valueStart = pos + 3;
    if (valueStart + length > end) {
      return `TLV 0x${type.toString(16)} of length ${length} runs ${valueStart + length - end} byte(s) past the header`;
    }
    if (!tlvs.has(type)) tlvs.set(type, input.subarray(valueStart, valueStart + length));
    pos = valueStart + length;
  }
  return tlvs;
}

function checkCrc32c(header: Buffer, value: Buffer): string | null {
  if (value.length !== 4) return `CRC32C TLV of length ${value.length}, want 4`;
  const expected = value.readUInt32BE(0);
  // §2.2.3: computed over the whole header with the checksum field zeroed.
  const copy = Buffer.from(header);
  copy.fill(0, value.byteOffset - header.byteOffset, value.byteOffset - header.byteOffset + 4);
  const actual = crc32c(copy);
  return actual === expected
    ? null
    : `CRC32C mismatch (header says ${hex32(expected)}, computed ${hex32(actual)})`;
}

function hex32(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

let crcTable: Uint32Array | undefined;

/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as RFC 4960 Appendix B computes it. */
export function crc32c(data: Uint8Array): number {
  crcTable ??= buildCrcTable();
  let crc = 0xffffffff;
  for (const byte of data) crc = (crcTable[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function buildCrcTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}
