/**
 * TLS ClientHello sniffer: a pure function from the bytes a client has sent so far to its SNI, ALPN and
 * versions. No sockets, no logging, no exceptions: every read is bounds-checked by `ByteReader`, and a
 * short buffer is `need-more`, never a crash.
 *
 * Structure (RFC 8446 §4.1.2, same wire layout as RFC 5246 §7.4.1.2):
 *   record header    type(1)=22 version(2) length(2)                        RFC 8446 §5.1
 *   handshake header msg_type(1)=1 length(3)                                  RFC 8446 §4
 *   ClientHello      legacy_version(2) random(32) legacy_session_id<0..32>
 *                    cipher_suites<2..2^16-2> legacy_compression_methods<1..2^8-1>
 *                    extensions<0..2^16-1> (absent entirely in some pre-1.3 hellos)
 */
import type { ErrorCode } from '../errors.js';
import { escapeForLog, normalizeHostname } from '../route/hostname.js';
import { needMore, sniffDone, sniffInvalid, type SniffResult, type Sniffer } from './sniffer.js';

export interface ClientHello {
  /** Normalised (lowercase) SNI host_name; null when the hello carries no server_name extension. */
  readonly serverName: string | null;
  /** ALPN protocol names in client order, decoded as latin1 (one char per wire byte). */
  readonly alpn: readonly string[];
  /** ClientHello.legacy_version, e.g. 0x0303. */
  readonly legacyVersion: number;
  /** From the supported_versions extension (RFC 8446 §4.2.1); [] when absent. */
  readonly supportedVersions: readonly number[];
  /** Bytes of the input taken by the records that carried the hello (headers included). */
  readonly recordBytes: number;
}

export interface ClientHelloOptions {
  /** Largest number of input bytes (record headers included) the hello may occupy; default 65536. */
  readonly maxHelloBytes?: number;
}

export const DEFAULT_MAX_HELLO_BYTES = 65536;

const CONTENT_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const RECORD_HEADER = 5;
const HANDSHAKE_HEADER = 4;
/** RFC 8446 §5.1: "The length MUST NOT exceed 2^14 bytes." */
const MAX_RECORD_PAYLOAD = 16384;
/**
 * Smallest fragment a real client uses when it splits its hello: 2^9, the least max_fragment_length
 * (RFC 6066 §4). Only used to bound the number of records we walk per call, so a client that trickles
 * one-byte records cannot make every re-sniff walk thousands of headers.
 */
const MIN_REAL_FRAGMENT = 512;
const MIN_RECORD_LIMIT = 16;

const EXT_SERVER_NAME = 0; // RFC 6066 §3
const EXT_ALPN = 16; // RFC 7301 §3.1
const EXT_SUPPORTED_VERSIONS = 43; // RFC 8446 §4.2.1
const SNI_HOST_NAME = 0;

type Result = SniffResult<ClientHello>;

/**
 * A cursor over [start, end) of a Buffer. Every read checks the bound and reports a shortfall as -1 or
 * null instead of throwing or reading past `end`.
 */
class ByteReader {
  private pos: number;

  constructor(
    private readonly buf: Buffer,
    start: number,
    private readonly end: number,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  u8(): number {
    if (this.remaining < 1) return -1;
    return this.buf[this.pos++] ?? -1;
  }

  u16(): number {
    if (this.remaining < 2) return -1;
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  skip(n: number): boolean {
    if (n < 0 || this.remaining < n) return false;
    this.pos += n;
    return true;
  }

  /** The next n bytes as a reader of their own; null when fewer remain. */
  sub(n: number): ByteReader | null {
    if (n < 0 || this.remaining < n) return null;
    const r = new ByteReader(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }

  /** The next n bytes decoded as latin1; null when fewer remain. */
  latin1(n: number): string | null {
    if (n < 0 || this.remaining < n) return null;
    const s = this.buf.toString('latin1', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
}

function bad(reason: string): Result {
  return sniffInvalid('EDGE_BAD_HELLO', reason);
}

function invalid(code: ErrorCode, reason: string): Result {
  return sniffInvalid(code, reason);
}

function hex(n: number, digits = 2): string {
  return `0x${n.toString(16).padStart(digits, '0')}`;
}

/**
 * Parses the ClientHello at the start of `input`. Returns `need-more` until the whole handshake message
 * (and the record that ends it) is present, and `invalid` as soon as the bytes seen prove the stream is
 * not a TLS ClientHello, is malformed, or will exceed `maxHelloBytes`.
 */
export function parseClientHello(input: Buffer, opts: ClientHelloOptions = {}): Result {
  const maxBytes = opts.maxHelloBytes ?? DEFAULT_MAX_HELLO_BYTES;
  const maxRecords = Math.max(MIN_RECORD_LIMIT, Math.ceil(maxBytes / MIN_REAL_FRAGMENT) + 1);
  const first = input[0];
  if (first === undefined) return needMore();
  // RFC 5246 App. E.2: an SSL 2.0-compatible CLIENT-HELLO starts with a 2-byte length whose high bit is
  // set. No TLS 1.3 server accepts it and it carries no SNI, so it is refused outright.
  if ((first & 0x80) !== 0) return invalid('EDGE_NOT_TLS', 'SSLv2-compatible ClientHello is not supported');
  if (first !== CONTENT_HANDSHAKE) {
    return invalid('EDGE_NOT_TLS', `first byte ${hex(first)} is not a TLS handshake record`);
  }

  // RFC 8446 §5.1: a handshake message may be fragmented across several records, which must then be
  // contiguous (no record of another type in between). Walk records, noting where each fragment starts
  // (offsets only: a re-sniff after every TCP segment allocates nothing per record) until the declared
  // message length is covered; copy fragments together only once the message is complete.
  const fragmentStarts: number[] = [];
  const head: number[] = []; // the 4-byte handshake header, which may straddle records
  let have = 0; // handshake bytes available so far (the last fragment may be partial)
  let messageLength = -1; // HANDSHAKE_HEADER + body length, once known
  let pos = 0;
  for (let records = 0; ; records++) {
    const isFirst = records === 0;
    const header = readRecordHeader(input, pos, isFirst);
    if (header.kind !== 'record') return header.result;
    if (records >= maxRecords) {
      return bad(`ClientHello fragmented over more than ${maxRecords} records`);
    }
    const recordEnd = pos + RECORD_HEADER + header.length;
    if (recordEnd > maxBytes) {
      return invalid(
        'EDGE_HELLO_TOO_LARGE',
        `record ends at byte ${recordEnd}, over the ${maxBytes}-byte limit`,
      );
    }
    const haveBefore = have;
    const fragmentStart = pos + RECORD_HEADER;
    const fragmentEnd = Math.min(recordEnd, input.length);
    fragmentStarts.push(fragmentStart);
    have += fragmentEnd - fragmentStart;

    if (messageLength < 0) {
      for (let i = fragmentStart; i < fragmentEnd && head.length < HANDSHAKE_HEADER; i++) {
        head.push(input[i] ?? 0);
      }
      const msgType = head[0];
      if (msgType !== undefined && msgType !== HANDSHAKE_CLIENT_HELLO) {
        return bad(`handshake type ${msgType} is not client_hello (1)`);
      }
      if (head.length === HANDSHAKE_HEADER) {
        messageLength = HANDSHAKE_HEADER + (((head[1] ?? 0) << 16) | ((head[2] ?? 0) << 8) | (head[3] ?? 0));
        const tooLarge = checkDeclaredSize(messageLength, haveBefore, pos, header.length, maxBytes);
        if (tooLarge !== null) return tooLarge;
      }
    }
    if (messageLength >= 0) {
      const inThisRecord = messageLength - haveBefore;
      if (inThisRecord < header.length) {
        // The client's first flight is the ClientHello alone (RFC 8446 §4.1.2, RFC 5246 §7.3): nothing
        // may follow it inside its last record.
        return bad(`${header.length - inThisRecord} unexpected bytes after the ClientHello in its record`);
      }
    }
    if (recordEnd > input.length) return needMore();
    if (messageLength >= 0 && have >= messageLength) {
      return parseHandshakeBody(reassemble(input, fragmentStarts, messageLength), messageLength, recordEnd);
    }
    pos = recordEnd;
  }
}

type RecordHeader =
  { readonly kind: 'record'; readonly length: number } | { readonly kind: 'stop'; readonly result: Result };

/** Reads and checks the record header at `pos`, deciding on each byte as soon as it arrives. */
function readRecordHeader(input: Buffer, pos: number, isFirst: boolean): RecordHeader {
  const notThis = (reason: string): RecordHeader => ({
    kind: 'stop',
    result: invalid(isFirst ? 'EDGE_NOT_TLS' : 'EDGE_BAD_HELLO', reason),
  });
  const short: RecordHeader = { kind: 'stop', result: needMore() };
  const type = input[pos];
  if (type === undefined) return short;
  if (type !== CONTENT_HANDSHAKE) {
    // RFC 8446 §5.1: "Handshake messages MUST NOT be interleaved with other record types."
    return notThis(`record of content type ${type} before the ClientHello was complete`);
  }
  const major = input[pos + 1];
  if (major === undefined) return short;
  const minor = input[pos + 2];
  // legacy_record_version (RFC 8446 §5.1) is 0x0301 or 0x0303 in practice; anything outside
  // SSL 3.0 .. TLS 1.3 is not a TLS record at all.
  if (major !== 3 || (minor !== undefined && minor > 4)) {
    return notThis(
      `record version ${hex(major)}${minor === undefined ? '' : hex(minor).slice(2)} is not TLS`,
    );
  }
  if (input.length < pos + RECORD_HEADER) return short;
  const length = input.readUInt16BE(pos + 3);
  // RFC 8446 §5.1: "Implementations MUST NOT send zero-length fragments of Handshake types."
  if (length === 0) return { kind: 'stop', result: bad('zero-length handshake record') };
  if (length > MAX_RECORD_PAYLOAD)
    return { kind: 'stop', result: bad(`record length ${length} exceeds 2^14`) };
  return { kind: 'record', length };
}

/**
 * The handshake message from its complete fragments: a view when one record holds it, else a copy.
 * Each fragment runs from its start to the next record header (its record's end) or to the message end.
 */
function reassemble(input: Buffer, fragmentStarts: readonly number[], messageLength: number): Buffer {
  const first = fragmentStarts[0] ?? 0;
  if (fragmentStarts.length === 1) return input.subarray(first, first + messageLength);
  const message = Buffer.allocUnsafe(messageLength);
  let copied = 0;
  for (const start of fragmentStarts) {
    const length = Math.min(input.readUInt16BE(start - 2), messageLength - copied);
    copied += input.copy(message, copied, start, start + length);
  }
  return message;
}

/**
 * Rejects, from the declared handshake length alone, a hello whose records cannot fit in `maxBytes`:
 * the bytes not carried by the current record need at least one 5-byte header per 2^14 bytes.
 */
function checkDeclaredSize(
  messageLength: number,
  haveBefore: number,
  recordStart: number,
  recordLength: number,
  maxBytes: number,
): Result | null {
  const rest = messageLength - haveBefore - recordLength;
  const recordEnd = recordStart + RECORD_HEADER + recordLength;
  const minEnd =
    rest <= 0 ? recordEnd : recordEnd + rest + RECORD_HEADER * Math.ceil(rest / MAX_RECORD_PAYLOAD);
  if (minEnd > maxBytes) {
    return invalid(
      'EDGE_HELLO_TOO_LARGE',
      `ClientHello of ${messageLength} bytes needs at least ${minEnd} input bytes, over the ${maxBytes}-byte limit`,
    );
  }
  return null;
}

interface Extensions {
  serverName: string | null;
  alpn: readonly string[];
  supportedVersions: readonly number[];
}

/** Parses the complete ClientHello message (header included) held in message[0, messageLength). */
function parseHandshakeBody(message: Buffer, messageLength: number, recordBytes: number): Result {
  const r = new ByteReader(message, HANDSHAKE_HEADER, messageLength);
  const legacyVersion = r.u16();
  if (legacyVersion < 0) return bad('truncated legacy_version');
  if (legacyVersion >> 8 !== 3) return bad(`legacy_version ${hex(legacyVersion, 4)} is not TLS`);
  if (!r.skip(32)) return bad('truncated random');
  const sessionIdLength = r.u8();
  if (sessionIdLength < 0) return bad('truncated legacy_session_id');
  if (sessionIdLength > 32) return bad(`legacy_session_id length ${sessionIdLength} exceeds 32`);
  if (!r.skip(sessionIdLength)) return bad('truncated legacy_session_id');
  const suitesLength = r.u16();
  if (suitesLength < 0 || !r.skip(suitesLength)) return bad('truncated cipher_suites');
  if (suitesLength === 0 || suitesLength % 2 !== 0)
    return bad(`cipher_suites length ${suitesLength} is invalid`);
  const compressionLength = r.u8();
  const compression = compressionLength < 0 ? null : r.sub(compressionLength);
  if (compression === null) return bad('truncated legacy_compression_methods');
  if (compression.remaining === 0) return bad('empty legacy_compression_methods');
  // RFC 5246 §7.4.1.2: the list MUST contain the null method (0); TLS 1.3 sends exactly that.
  let hasNull = false;
  while (compression.remaining > 0) if (compression.u8() === 0) hasNull = true;
  if (!hasNull) return bad('legacy_compression_methods lacks the null method');

  const ext: Extensions = { serverName: null, alpn: [], supportedVersions: [] };
  // RFC 5246 §7.4.1.2: a pre-1.3 hello may end right after the compression methods.
  if (r.remaining > 0) {
    const extensionsLength = r.u16();
    if (extensionsLength < 0) return bad('truncated extensions length');
    if (extensionsLength !== r.remaining) {
      return bad(`extensions length ${extensionsLength} does not match the ${r.remaining} bytes left`);
    }
    const problem = parseExtensions(r, ext);
    if (problem !== null) return problem;
  }
  return sniffDone({
    serverName: ext.serverName,
    alpn: ext.alpn,
    legacyVersion,
    supportedVersions: ext.supportedVersions,
    recordBytes,
  });
}

/** Walks the extensions block (RFC 8446 §4.2), filling `out`; returns an invalid result or null. */
function parseExtensions(r: ByteReader, out: Extensions): Result | null {
  const seen = new Set<number>();
  while (r.remaining > 0) {
    const type = r.u16();
    const length = r.u16();
    if (type < 0 || length < 0) return bad('truncated extension header');
    const data = r.sub(length);
    if (data === null) return bad(`extension ${type} length ${length} overruns the extensions block`);
    // RFC 8446 §4.2: "There MUST NOT be more than one extension of the same type in a given extension block."
    if (seen.has(type)) return bad(`duplicate extension ${type}`);
    seen.add(type);
    let problem: Result | null = null;
    if (type === EXT_SERVER_NAME) problem = parseServerName(data, out);
    else if (type === EXT_ALPN) problem = parseAlpn(data, out);
    else if (type === EXT_SUPPORTED_VERSIONS) problem = parseSupportedVersions(data, out);
    if (problem !== null) return problem;
  }
  return null;
}

/**
 * RFC 6066 §3: ServerNameList server_name_list<1..2^16-1>, each entry name_type(1) + HostName<1..2^16-1>
 * for host_name(0). At most one name per type; unknown types are skipped assuming the same 2-byte
 * length prefix (as deployed stacks do). Literal IPs and trailing dots are not permitted in HostName.
 */
function parseServerName(data: ByteReader, out: Extensions): Result | null {
  const listLength = data.u16();
  if (listLength < 0) return bad('truncated server_name list');
  if (listLength !== data.remaining) return bad('server_name list length does not match the extension');
  if (listLength === 0) return bad('empty server_name list');
  let hostName: string | null = null;
  while (data.remaining > 0) {
    const nameType = data.u8();
    const nameLength = data.u16();
    if (nameType < 0 || nameLength < 0) return bad('truncated server_name entry');
    const raw = data.latin1(nameLength);
    if (raw === null) return bad('server_name entry overruns its list');
    if (nameType !== SNI_HOST_NAME) continue;
    if (hostName !== null) return bad('more than one host_name in server_name');
    if (raw.length === 0) return bad('empty host_name in server_name');
    hostName = raw;
  }
  if (hostName === null) return null;
  const normalized = normalizeHostname(hostName, { allowTrailingDot: false });
  if (!normalized.ok) {
    return invalid('EDGE_BAD_NAME', `SNI host_name "${escapeForLog(hostName)}": ${normalized.reason}`);
  }
  out.serverName = normalized.name;
  return null;
}

/** RFC 7301 §3.1: ProtocolNameList protocol_name_list<2..2^16-1>, each ProtocolName<1..2^8-1>. */
function parseAlpn(data: ByteReader, out: Extensions): Result | null {
  const listLength = data.u16();
  if (listLength < 0) return bad('truncated ALPN list');
  if (listLength !== data.remaining) return bad('ALPN list length does not match the extension');
  if (listLength === 0) return bad('empty ALPN list');
  const names: string[] = [];
  while (data.remaining > 0) {
    const nameLength = data.u8();
    if (nameLength === 0) return bad('empty ALPN protocol name');
    const name = data.latin1(nameLength);
    if (name === null) return bad('ALPN protocol name overruns its list');
    names.push(name);
  }
  out.alpn = names;
  return null;
}

/** RFC 8446 §4.2.1 (ClientHello form): ProtocolVersion versions<2..254>. */
function parseSupportedVersions(data: ByteReader, out: Extensions): Result | null {
  const listLength = data.u8();
  if (listLength < 0) return bad('truncated supported_versions');
  if (listLength !== data.remaining || listLength < 2 || listLength % 2 !== 0) {
    return bad(`supported_versions length ${listLength} is invalid`);
  }
  const versions: number[] = [];
  while (data.remaining > 0) versions.push(data.u16());
  out.supportedVersions = versions;
  return null;
}

/** The TLS sniffer: `parseClientHello` bound to its options, in the shared `Sniffer` shape. */
export function createTlsSniffer(opts: ClientHelloOptions = {}): Sniffer<ClientHello> {
  const options: ClientHelloOptions = { ...opts };
  return {
    protocol: 'tls',
    sniff: (input: Buffer): SniffResult<ClientHello> => parseClientHello(input, options),
  };
}
