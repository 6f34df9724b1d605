import t from 'tap';
import {
  alignFamilies,
  encodeProxyHeader,
  encodeProxyV1,
  encodeProxyV2,
} from '../../../src/connect/proxy-header.js';
import { parseProxyHeader, PP2_TYPE_ALPN, PP2_TYPE_AUTHORITY } from '../../../src/sniff/proxy-protocol.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const client = { address: '192.0.2.10', port: 54321 };
const edge = { address: '192.0.2.1', port: 443 };

t.test('v1: TCP4 line, byte for byte', async (t) => {
  t.equal(encodeProxyV1(client, edge).toString('latin1'), 'PROXY TCP4 192.0.2.10 192.0.2.1 54321 443\r\n');
  t.equal(
    encodeProxyV1({ address: '192.168.0.1', port: 56324 }, { address: '192.168.0.11', port: 443 }).toString(),
    'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n',
    'the spec example',
  );
});

t.test('an IPv4 client on a dual-stack listener is TCP4, never ::ffff: TCP6 (sniproxy bug)', async (t) => {
  const mapped = { address: '::ffff:192.0.2.10', port: 54321 };
  const local = { address: '::ffff:192.0.2.1', port: 443 };
  t.equal(encodeProxyV1(mapped, local).toString(), 'PROXY TCP4 192.0.2.10 192.0.2.1 54321 443\r\n');
  const v2 = encodeProxyV2(mapped, local);
  t.equal(v2[13], 0x11, 'AF_INET, STREAM');
  t.same(v2.subarray(16, 24), hex('c000020a c0000201'));
});

t.test('v1: TCP6 line with RFC 5952 text in hexadecimal groups', async (t) => {
  const line = encodeProxyV1(
    { address: '2001:DB8:0:0:0:0:0:1', port: 1 },
    { address: '2001:db8:10::10', port: 8443 },
  );
  t.equal(line.toString(), 'PROXY TCP6 2001:db8::1 2001:db8:10::10 1 8443\r\n');
  const full = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
  const longest = encodeProxyV1({ address: full, port: 65535 }, { address: full, port: 65535 });
  t.equal(longest.length, 104, 'the longest TCP6 line of §2.1');
  t.equal(
    encodeProxyV1(
      { address: '2001:db8:0:0:1:0:0:1', port: 1 },
      { address: '0:0:1:0:0:0:0:0', port: 2 },
    ).toString(),
    'PROXY TCP6 2001:db8::1:0:0:1 0:0:1:: 1 2\r\n',
    'first of equal zero runs compressed; longest run wins',
  );
});

t.test('v2: TCP over IPv4, byte layout', async (t) => {
  const header = encodeProxyV2(client, edge);
  t.same(header, hex('0d0a0d0a000d0a515549540a 21 11 000c c000020a c0000201 d431 01bb'));
});

t.test('v2: TCP over IPv6, byte layout', async (t) => {
  const header = encodeProxyV2(
    { address: '2001:db8::1', port: 1 },
    { address: '2001:db8:10::10', port: 443 },
  );
  t.equal(header.length, 16 + 36);
  t.same(
    header,
    hex(
      '0d0a0d0a000d0a515549540a 21 21 0024 20010db8000000000000000000000001 20010db8001000000000000000000010 0001 01bb',
    ),
  );
});

t.test('v2: ALPN and AUTHORITY TLVs, lengths in the header and in each TLV', async (t) => {
  const header = encodeProxyV2(client, edge, { alpn: 'h2', authority: 'www.example' });
  t.equal(header.readUInt16BE(14), 12 + (3 + 2) + (3 + 11));
  t.equal(header.length, 16 + header.readUInt16BE(14));
  t.same(
    header.subarray(28),
    Buffer.concat([hex('01 0002'), Buffer.from('h2'), hex('02 000b'), Buffer.from('www.example')]),
  );
  const parsed = parseProxyHeader(header);
  if (parsed.kind !== 'done') throw new Error(JSON.stringify(parsed));
  t.equal(parsed.value.tlvs.get(PP2_TYPE_ALPN)?.toString(), 'h2');
  t.equal(parsed.value.tlvs.get(PP2_TYPE_AUTHORITY)?.toString(), 'www.example');

  const bytes = encodeProxyV2(client, edge, { alpn: new Uint8Array([0x68, 0x33]) });
  t.same(bytes.subarray(28), hex('01 0002 6833'), 'ALPN given as bytes');
  const utf8 = encodeProxyV2(client, edge, { authority: 'bücher.example' });
  t.equal(utf8.readUInt16BE(29), Buffer.byteLength('bücher.example'), 'AUTHORITY length counts UTF-8 bytes');
  const empty = encodeProxyV2(client, edge, { authority: '' });
  t.same(empty.subarray(28), hex('02 0000'), 'an empty TLV is 3 bytes');
});

t.test('v2: an oversized TLV is refused', async (t) => {
  t.throws(() => encodeProxyV2(client, edge, { authority: 'a'.repeat(65536) }), RangeError);
  t.throws(() => encodeProxyV2(client, edge, { authority: 'a'.repeat(65535 - 12) }), /exceeds 65535/);
});

t.test('families differ: the destination follows the client', async (t) => {
  const v6Edge = { address: '2001:db8:10::1', port: 443 };
  t.equal(encodeProxyV1(client, v6Edge).toString(), 'PROXY TCP4 192.0.2.10 0.0.0.0 54321 443\r\n');
  t.equal(
    encodeProxyV1(client, v6Edge, { ipv4Destination: '192.0.2.1' }).toString(),
    'PROXY TCP4 192.0.2.10 192.0.2.1 54321 443\r\n',
  );
  const v2 = encodeProxyV2(client, v6Edge, { ipv4Destination: '192.0.2.1' });
  t.same(v2.subarray(13, 28), hex('11 000c c000020a c0000201 d431 01bb'));
  t.equal(
    encodeProxyV1({ address: '2001:db8::1', port: 1 }, edge).toString(),
    'PROXY TCP6 2001:db8::1 ::ffff:c000:201 1 443\r\n',
  );
  t.same(alignFamilies({ address: '2001:db8::1', port: 1 }, edge).destination, {
    address: '::ffff:192.0.2.1',
    port: 443,
  });
  t.throws(() => alignFamilies(client, v6Edge, { ipv4Destination: '2001:db8::1' }), /not an IPv4/);
});

t.test('round trips through the decoder', async (t) => {
  const pairs = [
    [client, edge],
    [
      { address: '2001:db8::1', port: 0 },
      { address: '2001:db8:10::10', port: 65535 },
    ],
    [
      { address: '::ffff:198.51.100.7', port: 1234 },
      { address: '::ffff:192.0.2.1', port: 443 },
    ],
  ] as const;
  for (const [src, dst] of pairs) {
    for (const version of ['v1', 'v2'] as const) {
      const header = encodeProxyHeader(version, src, dst, { authority: 'a.example' });
      const r = parseProxyHeader(Buffer.concat([header, Buffer.from('after')]));
      if (r.kind !== 'done') throw new Error(JSON.stringify(r));
      const aligned = alignFamilies(src, dst);
      t.same(r.value.source, aligned.source, `${version} ${src.address}`);
      t.same(r.value.destination, aligned.destination);
      t.equal(r.value.headerLength, header.length);
      t.equal(r.value.version, version === 'v1' ? 1 : 2);
    }
  }
});

t.test('bad input is a programming error', async (t) => {
  t.throws(
    () => encodeProxyV1({ address: 'unknown', port: 1 }, edge),
    /source "unknown" is not an IP address/,
  );
  t.throws(() => encodeProxyV1(client, { address: '192.0.2.1', port: 70000 }), /destination port 70000/);
  t.throws(() => encodeProxyV2({ address: 'fe80::1%eth0', port: 1 }, edge), /not an IP address/);
});
