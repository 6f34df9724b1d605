/**
 * Builds ClientHello bytes for crafted edge cases. Every length is computed from the content unless a
 * test overrides it, so a test states only the one thing it breaks.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/client-hellos');

export interface CorpusEntry {
  readonly name: string;
  readonly file: string;
  readonly bytes: number;
  readonly serverName: string | null;
  readonly alpn: readonly string[];
  readonly tls13: boolean;
}

export function loadCorpus(): { entry: CorpusEntry; bytes: Buffer }[] {
  const index = JSON.parse(readFileSync(join(FIXTURES, 'index.json'), 'utf8')) as { hellos: CorpusEntry[] };
  return index.hellos.map((entry) => ({ entry, bytes: readFileSync(join(FIXTURES, entry.file)) }));
}

export function u8(n: number): Buffer {
  return Buffer.from([n & 0xff]);
}
export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
}
export function u24(n: number): Buffer {
  return Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
}
/** opaque<..2^8-1> */
export function vec8(data: Buffer): Buffer {
  return Buffer.concat([u8(data.length), data]);
}
/** opaque<..2^16-1> */
export function vec16(data: Buffer): Buffer {
  return Buffer.concat([u16(data.length), data]);
}

export interface Extension {
  readonly type: number;
  readonly data: Buffer;
}

export function ext(type: number, data: Buffer): Extension {
  return { type, data };
}

/** RFC 6066 §3 server_name with the given (name_type, name) entries; latin1 names. */
export function sniExt(...entries: (string | [number, string | Buffer])[]): Extension {
  const list = entries.map((e) => {
    const [type, name] = typeof e === 'string' ? [0, e] : e;
    return Buffer.concat([u8(type), vec16(typeof name === 'string' ? Buffer.from(name, 'latin1') : name)]);
  });
  return ext(0, vec16(Buffer.concat(list)));
}

/** RFC 7301 §3.1 ALPN with latin1 protocol names. */
export function alpnExt(...names: string[]): Extension {
  return ext(16, vec16(Buffer.concat(names.map((n) => vec8(Buffer.from(n, 'latin1'))))));
}

/** RFC 8446 §4.2.1, ClientHello form. */
export function supportedVersionsExt(...versions: number[]): Extension {
  return ext(43, vec8(Buffer.concat(versions.map(u16))));
}

/** RFC 8446 §4.2.8 key_share with (group, key length) entries; key bytes are filler. */
export function keyShareExt(...shares: [number, number][]): Extension {
  const entries = shares.map(([group, len]) => Buffer.concat([u16(group), vec16(Buffer.alloc(len, 0x5a))]));
  return ext(51, vec16(Buffer.concat(entries)));
}

export interface HelloSpec {
  legacyVersion?: number;
  sessionId?: Buffer;
  cipherSuites?: Buffer; // raw bytes, length-prefixed by the builder
  compression?: Buffer; // raw bytes, length-prefixed by the builder
  extensions?: readonly Extension[] | null; // null: no extensions block at all
  extensionsBlock?: Buffer; // raw block bytes after the 2-byte length (overrides extensions)
  extensionsLength?: number; // overrides the computed block length
  trailing?: Buffer; // bytes after the extensions block, inside the message
}

/** The ClientHello body (after the 4-byte handshake header). */
export function helloBody(spec: HelloSpec = {}): Buffer {
  const parts = [
    u16(spec.legacyVersion ?? 0x0303),
    Buffer.alloc(32, 0x11),
    vec8(spec.sessionId ?? Buffer.alloc(32, 0x22)),
    vec16(spec.cipherSuites ?? Buffer.from([0x13, 0x01, 0x13, 0x02, 0xc0, 0x2f])),
    vec8(spec.compression ?? Buffer.from([0])),
  ];
  const exts = spec.extensions === undefined ? [sniExt('example.com')] : spec.extensions;
  if (exts !== null || spec.extensionsBlock !== undefined) {
    const block =
      spec.extensionsBlock ??
      Buffer.concat((exts ?? []).map((e) => Buffer.concat([u16(e.type), vec16(e.data)])));
    parts.push(u16(spec.extensionsLength ?? block.length), block);
  }
  if (spec.trailing) parts.push(spec.trailing);
  return Buffer.concat(parts);
}

/** A handshake message: msg_type(1) length(3) body. */
export function handshake(body: Buffer, opts: { type?: number; length?: number } = {}): Buffer {
  return Buffer.concat([u8(opts.type ?? 1), u24(opts.length ?? body.length), body]);
}

/** One TLS record. */
export function record(
  payload: Buffer,
  opts: { type?: number; version?: number; length?: number } = {},
): Buffer {
  return Buffer.concat([
    u8(opts.type ?? 22),
    u16(opts.version ?? 0x0301),
    u16(opts.length ?? payload.length),
    payload,
  ]);
}

/** Splits a handshake message into handshake records with the given fragment sizes (last one repeats). */
export function records(message: Buffer, sizes: readonly number[], version = 0x0301): Buffer {
  const out: Buffer[] = [];
  let off = 0;
  for (let i = 0; off < message.length; i++) {
    const size = sizes[Math.min(i, sizes.length - 1)] ?? message.length;
    out.push(record(message.subarray(off, off + size), { version }));
    off += size;
  }
  return Buffer.concat(out);
}

/** A complete single-record ClientHello. */
export function helloRecord(spec: HelloSpec = {}): Buffer {
  return record(handshake(helloBody(spec)));
}

/** The handshake message carried by a stream of handshake records (reassembled). */
export function unwrapRecords(stream: Buffer): Buffer {
  const out: Buffer[] = [];
  let off = 0;
  while (off + 5 <= stream.length) {
    const len = stream.readUInt16BE(off + 3);
    out.push(stream.subarray(off + 5, off + 5 + len));
    off += 5 + len;
  }
  return Buffer.concat(out);
}
