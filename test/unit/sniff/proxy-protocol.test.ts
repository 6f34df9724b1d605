import t, { type Test } from 'tap';
import {
  crc32c,
  createProxyHeaderSniffer,
  parseProxyHeader,
  PP1_MAX_LENGTH,
  PP2_SIGNATURE,
  PP2_TYPE_ALPN,
  PP2_TYPE_AUTHORITY,
  PP2_TYPE_CRC32C,
  PP2_TYPE_NOOP,
  type ProxyHeader,
} from '../../../src/sniff/proxy-protocol.js';
import type { SniffResult } from '../../../src/sniff/sniffer.js';

function done(t: Test, r: SniffResult<ProxyHeader>): ProxyHeader {
  if (r.kind !== 'done') {
    t.fail(`expected done, got ${JSON.stringify(r)}`);
    throw new Error('not done');
  }
  return r.value;
}

function invalid(t: Test, r: SniffResult<ProxyHeader>, pattern: RegExp): void {
  if (r.kind !== 'invalid') {
    t.fail(`expected invalid, got ${r.kind}`);
    return;
  }
  t.equal(r.code, 'EDGE_BAD_PROXY_HEADER');
  t.match(r.reason, pattern);
}

/** Every proper prefix of a valid header is need-more: a header split over any TCP segments is fine. */
function everyPrefixNeedsMore(t: Test, header: Buffer): void {
  for (let n = 0; n < header.length; n++) {
    const r = parseProxyHeader(header.subarray(0, n));
    if (r.kind !== 'need-more') {
      t.fail(`prefix of ${n} bytes: ${JSON.stringify(r)}`);
      return;
    }
  }
  t.pass(`all ${header.length} proper prefixes need more`);
}

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** v2 header from its parts: ver_cmd, fam, body (addresses + TLVs); len is computed. */
function v2(verCmd: number, fam: number, body: Buffer): Buffer {
  const head = Buffer.alloc(16);
  PP2_SIGNATURE.copy(head);
  head[12] = verCmd;
  head[13] = fam;
  head.writeUInt16BE(body.length, 14);
  return Buffer.concat([head, body]);
}

function tlv(type: number, value: Buffer): Buffer {
  const h = Buffer.alloc(3);
  h[0] = type;
  h.writeUInt16BE(value.length, 1);
  return Buffer.concat([h, value]);
}

const V4_BLOCK = hex('c000020a c0000201 d431 01bb'); // 192.0.2.10:54321 → 192.0.2.1:443

t.test('v1: the spec example before an HTTP request (§2.1)', async (t) => {
  const line = 'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n';
  const input = Buffer.from(`${line}GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n`);
  const h = done(t, parseProxyHeader(input));
  t.same(h, {
    version: 1,
    command: 'proxy',
    family: 'tcp4',
    source: { address: '192.168.0.1', port: 56324 },
    destination: { address: '192.168.0.11', port: 443 },
    tlvs: new Map(),
    headerLength: line.length,
  });
  t.equal(input.subarray(h.headerLength).toString().slice(0, 3), 'GET');
  everyPrefixNeedsMore(t, Buffer.from(line));
});

t.test('v1: the longest lines the spec lists are accepted', async (t) => {
  const v4 = Buffer.from('PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n');
  t.equal(v4.length, 56);
  t.equal(done(t, parseProxyHeader(v4)).source?.address, '255.255.255.255');
  const full = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
  const v6 = Buffer.from(`PROXY TCP6 ${full} ${full} 65535 65535\r\n`);
  t.equal(v6.length, 104);
  const h6 = done(t, parseProxyHeader(v6));
  t.equal(h6.family, 'tcp6');
  t.equal(h6.source?.address, full);
  t.equal(h6.destination?.port, 65535);
  const worst = Buffer.from(`PROXY UNKNOWN ${full} ${full} 65535 65535\r\n`);
  t.equal(worst.length, PP1_MAX_LENGTH);
  const hu = done(t, parseProxyHeader(worst));
  t.same([hu.family, hu.source, hu.headerLength], ['unknown', undefined, 107]);
  everyPrefixNeedsMore(t, worst);
});

t.test('v1: UNKNOWN short form, and anything after UNKNOWN is ignored', async (t) => {
  const short = done(t, parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\nrest')));
  t.same([short.version, short.command, short.family, short.headerLength], [1, 'proxy', 'unknown', 15]);
  t.equal(done(t, parseProxyHeader(Buffer.from('PROXY UNKNOWN whatever 1 2\r\n'))).family, 'unknown');
});

t.test('v1: IPv6 in compressed and mixed forms is canonicalised', async (t) => {
  const h = done(t, parseProxyHeader(Buffer.from('PROXY TCP6 2001:DB8:0:0::1 ::ffff:192.0.2.10 1 0\r\n')));
  t.equal(h.source?.address, '2001:db8::1');
  t.equal(h.destination?.address, '::ffff:192.0.2.10');
  t.equal(h.destination?.port, 0);
});

t.test('v1: malformed lines are rejected', async (t) => {
  const cases: [string, RegExp][] = [
    ['PROXY TCP4 192.0.2.10 192.0.2.1 1 2\n', /LF without CR/],
    ['PROXY TCP4 192.0.2.10 192.0.2.1 1 2\rX', /CR without LF/],
    ['PROXY TCP5 192.0.2.10 192.0.2.1 1 2\r\n', /unknown protocol "TCP5"/],
    ['PROXY tcp4 192.0.2.10 192.0.2.1 1 2\r\n', /unknown protocol/],
    ['PROXY  TCP4 192.0.2.10 192.0.2.1 1 2\r\n', /unknown protocol ""/],
    ['PROXY TCP4 192.0.2.10  192.0.2.1 1 2\r\n', /fields/],
    ['PROXY TCP4 192.0.2.10 192.0.2.1 1\r\n', /3 fields/],
    ['PROXY TCP4 192.0.2.10 192.0.2.1 1 2 3\r\n', /5 fields/],
    ['PROXY TCP4 192.0.2.10 192.0.2.1 1 2 \r\n', /fields/],
    ['PROXY TCP4 192.0.2.010 192.0.2.1 1 2\r\n', /source "192.0.2.010"/],
    ['PROXY TCP4 192.0.2.10 192.0.2.256 1 2\r\n', /destination/],
    ['PROXY TCP4 2001:db8::1 192.0.2.1 1 2\r\n', /not an TCP4 address/],
    ['PROXY TCP6 192.0.2.10 2001:db8::1 1 2\r\n', /not an TCP6 address/],
    ['PROXY TCP6 fe80::1%eth0 2001:db8::1 1 2\r\n', /source/],
    ['PROXY TCP4 192.0.2.10 192.0.2.1 01 2\r\n', /source port "01"/],
    ['PROXY TCP4 192.0.2.10 192.0.2.1 1 65536\r\n', /destination port "65536"/],
    ['PROXY TCP4 192.0.2.10 192.0.2.1 -1 2\r\n', /source port/],
    ['PROXY TCP4 192.0.2.10\t192.0.2.1 1 2\r\n', /byte 0x9/],
    ['PROXY TCP4 192.0.2.10 192.0.2.1 1 2\u00ff\r\n', /byte 0xff/],
    ['PROXX TCP4', /does not start with "PROXY "/],
    ['GET / HTTP/1.1\r\n', /not a PROXY protocol header/],
    ['\x16\x03\x01\x02\x00', /not a PROXY protocol header/],
  ];
  for (const [text, pattern] of cases) {
    t.test(JSON.stringify(text), async (t) =>
      invalid(t, parseProxyHeader(Buffer.from(text, 'latin1')), pattern),
    );
  }
});

t.test('v1: no CRLF within 107 bytes is invalid, before that it needs more', async (t) => {
  const long = Buffer.from(`PROXY UNKNOWN ${'f'.repeat(200)}`);
  t.equal(parseProxyHeader(long.subarray(0, PP1_MAX_LENGTH - 1)).kind, 'need-more');
  invalid(t, parseProxyHeader(long.subarray(0, PP1_MAX_LENGTH)), /no CRLF in the first 107 bytes/);
  // The CRLF as bytes 107 and 108 is one byte too late.
  invalid(t, parseProxyHeader(Buffer.from(`PROXY UNKNOWN ${'f'.repeat(92)}\r\n`)), /no CRLF/);
});

t.test('v2: the bytes haproxy sends for TCP over IPv4 (send-proxy-v2)', async (t) => {
  // 172.19.0.1:42578 → 172.19.0.3:80, then the request.
  const header = hex('0d0a0d0a000d0a515549540a 21 11 000c ac130001 ac130003 a652 0050');
  const input = Buffer.concat([header, Buffer.from('GET / HTTP/1.1\r\n')]);
  const h = done(t, parseProxyHeader(input));
  t.same(h, {
    version: 2,
    command: 'proxy',
    family: 'tcp4',
    source: { address: '172.19.0.1', port: 42578 },
    destination: { address: '172.19.0.3', port: 80 },
    tlvs: new Map(),
    headerLength: 28,
  });
  everyPrefixNeedsMore(t, header);
});

t.test('v2: TCP over IPv6 with ALPN, AUTHORITY and NOOP TLVs', async (t) => {
  const addresses = Buffer.concat([
    hex('20010db8000000000000000000000001'),
    hex('20010db8001000000000000000000010'),
    hex('0001 ffff'),
  ]);
  const tlvs = Buffer.concat([
    tlv(PP2_TYPE_ALPN, Buffer.from('h2')),
    tlv(PP2_TYPE_AUTHORITY, Buffer.from('www.example')),
    tlv(PP2_TYPE_NOOP, Buffer.alloc(0)),
  ]);
  const header = v2(0x21, 0x21, Buffer.concat([addresses, tlvs]));
  t.equal(header.readUInt16BE(14), 36 + 5 + 14 + 3);
  const h = done(t, parseProxyHeader(Buffer.concat([header, Buffer.from([0x16, 0x03, 0x01])])));
  t.equal(h.family, 'tcp6');
  t.same(h.source, { address: '2001:db8::1', port: 1 });
  t.same(h.destination, { address: '2001:db8:10::10', port: 65535 });
  t.equal(h.tlvs.get(PP2_TYPE_ALPN)?.toString(), 'h2');
  t.equal(h.tlvs.get(PP2_TYPE_AUTHORITY)?.toString(), 'www.example');
  t.equal(h.tlvs.get(PP2_TYPE_NOOP)?.length, 0);
  t.equal(h.headerLength, header.length);
  everyPrefixNeedsMore(t, header);
});

t.test('v2: LOCAL, UNSPEC, UDP and AF_UNIX carry no client address', async (t) => {
  const local = done(t, parseProxyHeader(v2(0x20, 0x00, Buffer.alloc(0))));
  t.same(
    [local.command, local.family, local.source, local.headerLength],
    ['local', 'unknown', undefined, 16],
  );
  // LOCAL with an address block: the block is skipped, not used (§2.2).
  const localV4 = done(t, parseProxyHeader(v2(0x20, 0x11, V4_BLOCK)));
  t.same([localV4.command, localV4.family, localV4.source], ['local', 'unknown', undefined]);
  const unspec = done(t, parseProxyHeader(v2(0x21, 0x00, tlv(PP2_TYPE_AUTHORITY, Buffer.from('a')))));
  t.same(
    [unspec.command, unspec.family, unspec.tlvs.get(PP2_TYPE_AUTHORITY)?.toString()],
    ['proxy', 'unknown', 'a'],
  );
  const udp = done(t, parseProxyHeader(v2(0x21, 0x12, V4_BLOCK)));
  t.same([udp.family, udp.source], ['unknown', undefined]);
  const unix = done(t, parseProxyHeader(v2(0x21, 0x31, Buffer.alloc(216))));
  t.same([unix.family, unix.headerLength], ['unknown', 232]);
});

t.test('v2: malformed headers are rejected', async (t) => {
  const good = v2(0x21, 0x11, V4_BLOCK);
  for (let i = 0; i < 12; i++) {
    const wrong = Buffer.from(good);
    wrong[i] = (wrong[i] ?? 0) ^ 0x40;
    const r = parseProxyHeader(wrong);
    t.equal(r.kind, 'invalid', `signature byte ${i} flipped`);
  }
  // A wrong signature byte is noticed as soon as it arrives, not after 16 bytes.
  invalid(t, parseProxyHeader(hex('0d0a0d0a01')), /wrong signature/);
  invalid(t, parseProxyHeader(v2(0x11, 0x11, V4_BLOCK)), /version 1, want 2/);
  invalid(t, parseProxyHeader(v2(0x31, 0x11, V4_BLOCK)), /version 3/);
  invalid(t, parseProxyHeader(v2(0x22, 0x11, V4_BLOCK)), /unassigned command 0x2/);
  invalid(t, parseProxyHeader(v2(0x21, 0x41, V4_BLOCK)), /unassigned address family 0x4/);
  invalid(t, parseProxyHeader(v2(0x21, 0x13, V4_BLOCK)), /unassigned transport protocol 0x3/);
  invalid(
    t,
    parseProxyHeader(v2(0x21, 0x11, V4_BLOCK.subarray(0, 11))),
    /length 11 is shorter than the 12-byte/,
  );
  invalid(t, parseProxyHeader(v2(0x21, 0x21, Buffer.alloc(35))), /shorter than the 36-byte/);
  invalid(t, parseProxyHeader(v2(0x21, 0x31, Buffer.alloc(215))), /216-byte/);
});

t.test('v2: TLV lengths must tile the header exactly', async (t) => {
  const overrun = Buffer.concat([V4_BLOCK, hex('02 0005'), Buffer.from('abcd')]);
  invalid(t, parseProxyHeader(v2(0x21, 0x11, overrun)), /TLV 0x2 of length 5 runs 1 byte\(s\) past/);
  invalid(t, parseProxyHeader(v2(0x21, 0x11, Buffer.concat([V4_BLOCK, hex('01')]))), /1 trailing byte/);
  invalid(t, parseProxyHeader(v2(0x21, 0x11, Buffer.concat([V4_BLOCK, hex('0100')]))), /2 trailing byte/);
  const exact = done(
    t,
    parseProxyHeader(v2(0x21, 0x11, Buffer.concat([V4_BLOCK, hex('02 0004'), Buffer.from('abcd')]))),
  );
  t.equal(exact.tlvs.get(PP2_TYPE_AUTHORITY)?.toString(), 'abcd');
  // A large TLV (1000 bytes) spans segments: need-more until the last byte.
  const big = v2(0x21, 0x11, Buffer.concat([V4_BLOCK, tlv(0xe0, Buffer.alloc(1000, 7))]));
  t.equal(parseProxyHeader(big.subarray(0, big.length - 1)).kind, 'need-more');
  t.equal(done(t, parseProxyHeader(big)).tlvs.get(0xe0)?.length, 1000);
});

t.test('v2: a repeated TLV type keeps its first value', async (t) => {
  const body = Buffer.concat([V4_BLOCK, tlv(2, Buffer.from('first')), tlv(2, Buffer.from('second'))]);
  t.equal(
    done(t, parseProxyHeader(v2(0x21, 0x11, body)))
      .tlvs.get(2)
      ?.toString(),
    'first',
  );
});

t.test('v2: headers above the accepted size are refused from their 16-byte header', async (t) => {
  const head = v2(0x21, 0x11, Buffer.alloc(0));
  head.writeUInt16BE(5000, 14);
  invalid(t, parseProxyHeader(head), /5016 bytes exceeds the 4096-byte limit/);
  t.equal(parseProxyHeader(head, 8192).kind, 'need-more');
});

t.test('CRC32C: RFC 3720 B.4 test vectors, and the PP2_TYPE_CRC32C check', async (t) => {
  t.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa);
  t.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  t.equal(crc32c(Buffer.from('123456789')), 0xe3069283);

  const body = Buffer.concat([V4_BLOCK, tlv(PP2_TYPE_CRC32C, Buffer.alloc(4))]);
  const header = v2(0x21, 0x11, body);
  header.writeUInt32BE(crc32c(header), header.length - 4);
  t.equal(done(t, parseProxyHeader(header)).source?.address, '192.0.2.10');
  const tampered = Buffer.from(header);
  tampered[17] = 1;
  invalid(t, parseProxyHeader(tampered), /CRC32C mismatch/);
  invalid(
    t,
    parseProxyHeader(v2(0x21, 0x11, Buffer.concat([V4_BLOCK, tlv(PP2_TYPE_CRC32C, Buffer.alloc(3))]))),
    /CRC32C TLV of length 3/,
  );
});

t.test('the sniffer shape', async (t) => {
  const sniffer = createProxyHeaderSniffer();
  t.equal(sniffer.protocol, 'proxy-protocol');
  t.equal(sniffer.sniff(Buffer.alloc(0)).kind, 'need-more');
  t.equal(sniffer.sniff(Buffer.from('PROXY UNKNOWN\r\n')).kind, 'done');
});

t.test('fuzz: 20 000 seeded mutants of valid headers never throw and never over-read', async (t) => {
  const seeds = [
    Buffer.from('PROXY TCP4 192.0.2.10 192.0.2.1 54321 443\r\n'),
    Buffer.from('PROXY TCP6 2001:db8::1 2001:db8:10::10 1 8443\r\n'),
    Buffer.from('PROXY UNKNOWN\r\n'),
    v2(0x21, 0x11, Buffer.concat([V4_BLOCK, tlv(PP2_TYPE_AUTHORITY, Buffer.from('web.example'))])),
    v2(0x21, 0x21, Buffer.alloc(36 + 8)),
    v2(0x20, 0x00, Buffer.alloc(0)),
  ];
  let seed = 46;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return Math.floor(seed / 65536) % n; // the low bits of this LCG are poor
  };
  const kinds = { done: 0, 'need-more': 0, invalid: 0 };
  for (let i = 0; i < 20_000; i++) {
    const input = Buffer.from(seeds[rand(seeds.length)] ?? Buffer.alloc(0));
    for (let m = 1 + rand(3); m > 0; m--) input[rand(input.length)] = rand(256);
    const cut = rand(4) === 0 ? input.subarray(0, rand(input.length + 1)) : input;
    let r: SniffResult<ProxyHeader>;
    try {
      r = parseProxyHeader(cut);
    } catch (err) {
      t.fail(`threw on ${cut.toString('hex')}: ${String(err)}`);
      return;
    }
    kinds[r.kind]++;
    if (r.kind === 'done' && r.value.headerLength > cut.length) {
      t.fail(`headerLength ${r.value.headerLength} > input ${cut.length}: ${cut.toString('hex')}`);
      return;
    }
    if (r.kind === 'invalid' && r.reason.length === 0) t.fail('an invalid result without a reason');
  }
  t.ok(kinds.done > 0 && kinds['need-more'] > 0 && kinds.invalid > 0, JSON.stringify(kinds));
});
