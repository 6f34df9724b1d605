import t, { type Test } from 'tap';
import {
  createTlsSniffer,
  parseClientHello,
  type ClientHello,
  type ClientHelloOptions,
} from '../../../src/sniff/tls-client-hello.js';
import type { SniffResult } from '../../../src/sniff/sniffer.js';
import {
  alpnExt,
  ext,
  handshake,
  helloBody,
  helloRecord,
  keyShareExt,
  loadCorpus,
  record,
  records,
  sniExt,
  supportedVersionsExt,
  u16,
  unwrapRecords,
  type HelloSpec,
} from './client-hello-builder.js';

const corpus = loadCorpus();

function isPrintableAscii(s: string): boolean {
  for (const ch of s) {
    const code = ch.codePointAt(0) ?? 0;
    if ((code < 0x20 || code > 0x7e) && ch !== '…') return false;
  }
  return true;
}

function done(t: Test, r: SniffResult<ClientHello>): ClientHello {
  if (r.kind !== 'done') {
    t.fail(`expected done, got ${JSON.stringify(r)}`);
    throw new Error('not done');
  }
  return r.value;
}

function expectInvalid(
  t: Test,
  input: Buffer,
  code: string,
  reason?: RegExp,
  opts?: ClientHelloOptions,
): void {
  const r = parseClientHello(input, opts);
  t.equal(r.kind, 'invalid', `invalid: ${JSON.stringify(r)}`);
  if (r.kind === 'invalid') {
    t.equal(r.code, code, r.reason);
    if (reason) t.match(r.reason, reason);
  }
}

function badSpec(t: Test, spec: HelloSpec, reason: RegExp, code = 'EDGE_BAD_HELLO'): void {
  expectInvalid(t, helloRecord(spec), code, reason);
}

/** The X25519MLKEM768 hybrid share is 1216 bytes (draft-ietf-tls-ecdhe-mlkem); 0x11ec is its code point. */
function pqHello(): Buffer {
  return helloRecord({
    extensions: [
      sniExt('pq.example'),
      alpnExt('h2', 'http/1.1'),
      ext(10, Buffer.from([0, 4, 0x11, 0xec, 0x00, 0x1d])), // supported_groups
      supportedVersionsExt(0x0304, 0x0303),
      keyShareExt([0x11ec, 1216], [0x001d, 32]),
      ext(21, Buffer.alloc(200)), // padding (RFC 7685), as browsers add
    ],
  });
}

t.test('corpus: every captured hello parses to what its client was asked to send', (t) => {
  t.ok(corpus.length >= 8, `${corpus.length} captured hellos`);
  for (const { entry, bytes } of corpus) {
    const hello = done(t, parseClientHello(bytes));
    t.equal(hello.serverName, entry.serverName, `${entry.name} serverName`);
    t.same(hello.alpn, entry.alpn, `${entry.name} alpn`);
    t.equal(hello.legacyVersion, 0x0303, `${entry.name} legacy_version`);
    t.equal(hello.supportedVersions.includes(0x0304), entry.tls13, `${entry.name} offers TLS 1.3`);
    if (!entry.tls13) t.same(hello.supportedVersions, [], `${entry.name} has no supported_versions`);
    t.equal(hello.recordBytes, bytes.length, `${entry.name} recordBytes covers the capture`);
  }
  t.end();
});

t.test('corpus: bytes after the hello (CCS, early data) change nothing', (t) => {
  const after = Buffer.concat([
    record(Buffer.from([1]), { type: 20 }),
    record(Buffer.alloc(40, 7), { type: 23 }),
  ]);
  for (const { entry, bytes } of corpus) {
    const alone = done(t, parseClientHello(bytes));
    t.same(done(t, parseClientHello(Buffer.concat([bytes, after]))), alone, entry.name);
  }
  t.end();
});

t.test('corpus: every prefix is need-more, the whole hello gives the same result', (t) => {
  for (const { entry, bytes } of corpus) {
    const full = parseClientHello(bytes);
    let allNeedMore = true;
    for (let n = 0; n < bytes.length; n++) {
      if (parseClientHello(bytes.subarray(0, n)).kind !== 'need-more') {
        allNeedMore = false;
        t.fail(`${entry.name}: prefix of ${n} bytes is not need-more`);
        break;
      }
    }
    t.ok(allNeedMore, `${entry.name}: ${bytes.length} prefixes are need-more`);
    t.same(parseClientHello(Buffer.from(bytes)), full, `${entry.name}: complete copy gives the same result`);
  }
  t.end();
});

t.test('the input is never modified', (t) => {
  for (const { bytes } of corpus) {
    const copy = Buffer.from(bytes);
    parseClientHello(bytes);
    t.ok(bytes.equals(copy));
  }
  t.end();
});

t.test('multi-record: a real hello from openssl over 5 records of 512 bytes', (t) => {
  const big = corpus.find((c) => c.entry.name === 'openssl-large-multi-record');
  if (!big) throw new Error('missing openssl-large-multi-record fixture');
  t.ok(big.bytes.length > 1500, `${big.bytes.length} bytes`);
  t.equal(big.bytes.readUInt16BE(3), 512, 'first record is a 512-byte fragment');
  const hello = done(t, parseClientHello(big.bytes));
  t.equal(hello.alpn.length, 10);
  t.equal(hello.serverName, 'big.openssl.example');
  t.end();
});

t.test('multi-record: the same message re-fragmented any way gives the same hello', (t) => {
  const base = corpus.find((c) => c.entry.name === 'openssl-alpn');
  if (!base) throw new Error('missing openssl-alpn fixture');
  const message = unwrapRecords(base.bytes);
  const expected = done(t, parseClientHello(base.bytes));
  for (const sizes of [
    [1],
    [2],
    [3],
    [4, 1],
    [1, 2, 3, 5, 8, 13, 400],
    [5],
    [100],
    [message.length - 1, 1],
  ]) {
    if (Math.ceil(message.length / (sizes[sizes.length - 1] ?? 1)) > 129) continue; // over the record cap
    const stream = records(message, sizes, 0x0303);
    const hello = done(t, parseClientHello(stream));
    t.same({ ...hello, recordBytes: 0 }, { ...expected, recordBytes: 0 }, `fragments ${sizes.join(',')}`);
    t.equal(hello.recordBytes, stream.length);
    t.equal(parseClientHello(stream.subarray(0, stream.length - 1)).kind, 'need-more');
  }
  t.end();
});

t.test('multi-record: a record of another type between fragments is invalid', (t) => {
  const message = handshake(helloBody());
  for (const type of [20, 21, 23, 24, 99]) {
    const stream = Buffer.concat([
      record(message.subarray(0, 10)),
      record(Buffer.from([1]), { type }),
      record(message.subarray(10)),
    ]);
    expectInvalid(t, stream, 'EDGE_BAD_HELLO', new RegExp(`content type ${type}`));
    // Decided as soon as the interloper's type byte is there.
    expectInvalid(t, stream.subarray(0, 16), 'EDGE_BAD_HELLO');
  }
  t.end();
});

t.test('multi-record: the handshake header itself split over records', (t) => {
  const message = handshake(helloBody({ extensions: [sniExt('split.example')] }));
  const stream = Buffer.concat([
    record(message.subarray(0, 1)),
    record(message.subarray(1, 3)),
    record(message.subarray(3)),
  ]);
  t.equal(done(t, parseClientHello(stream)).serverName, 'split.example');
  // A wrong type in a one-byte first fragment is refused before the length arrives.
  const wrong = record(handshake(helloBody(), { type: 2 }).subarray(0, 1));
  expectInvalid(t, wrong, 'EDGE_BAD_HELLO', /handshake type 2/);
  t.end();
});

t.test('multi-record: more records than any real client sends is refused', (t) => {
  const message = handshake(helloBody({ extensions: [sniExt('example.com'), ext(21, Buffer.alloc(100))] }));
  t.ok(message.length > 129);
  expectInvalid(t, records(message, [1]), 'EDGE_BAD_HELLO', /more than 129 records/);
  t.equal(done(t, parseClientHello(records(message, [2]))).serverName, 'example.com');
  t.end();
});

t.test('large post-quantum hello (crafted X25519MLKEM768 key share)', (t) => {
  const bytes = pqHello();
  t.ok(bytes.length > 1500, `${bytes.length} bytes`);
  const hello = done(t, parseClientHello(bytes));
  t.equal(hello.serverName, 'pq.example');
  t.same(hello.alpn, ['h2', 'http/1.1']);
  t.same(hello.supportedVersions, [0x0304, 0x0303]);
  t.equal(hello.recordBytes, bytes.length);
  // As TCP delivers it: one MSS-sized segment, then the rest.
  t.equal(parseClientHello(bytes.subarray(0, 1460)).kind, 'need-more');
  let firstDone = -1;
  for (let n = 0; n <= bytes.length && firstDone < 0; n++) {
    if (parseClientHello(bytes.subarray(0, n)).kind !== 'need-more') firstDone = n;
  }
  t.equal(firstDone, bytes.length, 'need-more on every prefix');
  // Fragmented at 2^14 is one record; at 512 it is several, both fine.
  t.same(done(t, parseClientHello(records(unwrapRecords(bytes), [512]))).alpn, ['h2', 'http/1.1']);
  t.end();
});

t.test('a hello near the 64 KiB default, over 126 records, arriving in MSS-sized segments', (t) => {
  const message = unwrapRecords(
    helloRecord({ extensions: [sniExt('near-limit.example'), ext(21, Buffer.alloc(64000))] }),
  );
  const stream = records(message, [510]);
  t.ok(stream.length > 64000 && stream.length <= 65536, `${stream.length} bytes`);
  let early = 0;
  for (let n = 0; n < stream.length; n += 1460) {
    if (parseClientHello(stream.subarray(0, n)).kind !== 'need-more') early++;
  }
  t.equal(early, 0, 'need-more on every partial segment');
  const last = parseClientHello(stream);
  t.equal(done(t, last).serverName, 'near-limit.example');
  t.equal(done(t, last).recordBytes, stream.length);
  t.end();
});

t.test('not TLS: decided from the first bytes', (t) => {
  expectInvalid(t, Buffer.from('G'), 'EDGE_NOT_TLS', /0x47/);
  expectInvalid(t, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 'EDGE_NOT_TLS');
  expectInvalid(t, Buffer.from('PROXY TCP4 '), 'EDGE_NOT_TLS');
  expectInvalid(t, Buffer.from([0x00]), 'EDGE_NOT_TLS');
  // SSLv2-compatible CLIENT-HELLO (RFC 5246 App. E.2): msg_length with the high bit, msg_type 1, 0x0301.
  const sslv2 = Buffer.from([0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10]);
  expectInvalid(t, sslv2, 'EDGE_NOT_TLS', /SSLv2/);
  expectInvalid(t, sslv2.subarray(0, 1), 'EDGE_NOT_TLS', /SSLv2/);
  // A TLS record of another type first (alert, CCS, application data) is not a hello stream.
  for (const type of [20, 21, 23]) expectInvalid(t, Buffer.from([type, 3, 3]), 'EDGE_NOT_TLS');
  t.end();
});

t.test('record version sanity', (t) => {
  t.equal(parseClientHello(Buffer.from([22])).kind, 'need-more');
  t.equal(parseClientHello(Buffer.from([22, 3])).kind, 'need-more');
  expectInvalid(t, Buffer.from([22, 2]), 'EDGE_NOT_TLS', /version/);
  expectInvalid(t, Buffer.from([22, 0x7f, 0x12]), 'EDGE_NOT_TLS', /version/);
  expectInvalid(t, Buffer.from([22, 3, 5]), 'EDGE_NOT_TLS', /version 0x0305/);
  for (const version of [0x0300, 0x0301, 0x0302, 0x0303, 0x0304]) {
    t.equal(done(t, parseClientHello(record(handshake(helloBody()), { version }))).serverName, 'example.com');
  }
  // In a later fragment the same fault is a bad hello, not "not TLS".
  const message = handshake(helloBody());
  const stream = Buffer.concat([
    record(message.subarray(0, 10)),
    record(message.subarray(10), { version: 0x0200 }),
  ]);
  expectInvalid(t, stream, 'EDGE_BAD_HELLO', /version/);
  t.end();
});

t.test('record lengths: zero-length and over 2^14', (t) => {
  expectInvalid(t, Buffer.from([22, 3, 1, 0, 0]), 'EDGE_BAD_HELLO', /zero-length/);
  const message = handshake(helloBody());
  // Records after a complete hello are not the sniffer's business: the backend judges them.
  t.equal(parseClientHello(Buffer.concat([record(message), record(Buffer.alloc(0))])).kind, 'done');
  const zeroBetween = Buffer.concat([
    record(message.subarray(0, 10)),
    record(Buffer.alloc(0)),
    record(message.subarray(10)),
  ]);
  expectInvalid(t, zeroBetween, 'EDGE_BAD_HELLO', /zero-length/);
  expectInvalid(t, Buffer.from([22, 3, 1, 0x40, 0x01]), 'EDGE_BAD_HELLO', /exceeds 2\^14/);
  t.equal(parseClientHello(Buffer.from([22, 3, 1, 0x40, 0x00])).kind, 'need-more', '2^14 itself is allowed');
  t.end();
});

t.test('handshake type other than client_hello', (t) => {
  for (const type of [0, 2, 4, 11, 20]) {
    const bytes = record(handshake(helloBody(), { type }));
    expectInvalid(t, bytes, 'EDGE_BAD_HELLO', /not client_hello/);
    expectInvalid(t, bytes.subarray(0, 6), 'EDGE_BAD_HELLO', /not client_hello/);
  }
  t.end();
});

t.test('handshake length disagreeing with its content', (t) => {
  const body = helloBody();
  // Shorter than the body: the record carries bytes after the declared message.
  expectInvalid(
    t,
    record(handshake(body, { length: body.length - 1 })),
    'EDGE_BAD_HELLO',
    /after the ClientHello/,
  );
  // Longer than the body, with nothing more sent: the client has more to send.
  t.equal(parseClientHello(record(handshake(body, { length: body.length + 5 }))).kind, 'need-more');
  // A handshake body that ends inside a field.
  for (const cut of [1, 2, 20, 34, 40, 67, 70]) {
    expectInvalid(t, record(handshake(body.subarray(0, cut))), 'EDGE_BAD_HELLO', /truncated/);
  }
  expectInvalid(t, record(handshake(Buffer.alloc(0))), 'EDGE_BAD_HELLO', /truncated legacy_version/);
  t.end();
});

t.test('ClientHello fields: versions, session id, cipher suites, compression', (t) => {
  badSpec(t, { legacyVersion: 0x0200 }, /legacy_version 0x0200/);
  t.equal(done(t, parseClientHello(helloRecord({ legacyVersion: 0x0301 }))).legacyVersion, 0x0301);
  t.ok(done(t, parseClientHello(helloRecord({ sessionId: Buffer.alloc(0) }))));
  badSpec(t, { sessionId: Buffer.alloc(33) }, /session_id length 33/);
  badSpec(t, { cipherSuites: Buffer.alloc(0) }, /cipher_suites length 0/);
  badSpec(t, { cipherSuites: Buffer.from([0x13, 0x01, 0x13]) }, /cipher_suites length 3/);
  badSpec(t, { compression: Buffer.alloc(0) }, /empty legacy_compression_methods/);
  badSpec(t, { compression: Buffer.from([1]) }, /null method/);
  t.ok(done(t, parseClientHello(helloRecord({ compression: Buffer.from([1, 0]) }))));
  t.end();
});

t.test('extensions block', (t) => {
  const none = done(t, parseClientHello(helloRecord({ extensions: null })));
  t.same(none, {
    serverName: null,
    alpn: [],
    legacyVersion: 0x0303,
    supportedVersions: [],
    recordBytes: none.recordBytes,
  });
  t.ok(done(t, parseClientHello(helloRecord({ extensions: [] }))), 'empty block');
  const exts = [sniExt('example.com'), alpnExt('h2')];
  badSpec(t, { extensions: exts, extensionsLength: 1 }, /extensions length 1 does not match/);
  badSpec(t, { extensions: exts, extensionsLength: 200 }, /does not match/);
  badSpec(t, { extensions: exts, trailing: Buffer.from([0]) }, /does not match/);
  badSpec(t, { extensions: null, trailing: Buffer.from([0]) }, /truncated extensions length/);
  // An extension whose length runs past the block.
  badSpec(t, { extensionsBlock: Buffer.concat([u16(0xff01), u16(10), Buffer.alloc(4)]) }, /overruns/);
  badSpec(t, { extensionsBlock: Buffer.from([0xff]) }, /truncated extension header/);
  badSpec(t, { extensionsBlock: Buffer.from([0xff, 0x01, 0x00]) }, /truncated extension header/);
  // Unknown extensions, including empty ones, are skipped.
  t.same(
    done(
      t,
      parseClientHello(
        helloRecord({
          extensions: [ext(0xff01, Buffer.alloc(0)), ext(0x1234, Buffer.alloc(9)), sniExt('a.example')],
        }),
      ),
    ).serverName,
    'a.example',
  );
  t.end();
});

t.test('duplicate extension types (RFC 8446 §4.2)', (t) => {
  badSpec(t, { extensions: [sniExt('a.example'), sniExt('b.example')] }, /duplicate extension 0/);
  badSpec(
    t,
    { extensions: [ext(0x1234, Buffer.alloc(0)), alpnExt('h2'), ext(0x1234, Buffer.alloc(0))] },
    /duplicate extension 4660/,
  );
  t.end();
});

t.test('server_name (RFC 6066 §3)', (t) => {
  const name = (...entries: Parameters<typeof sniExt>) =>
    parseClientHello(helloRecord({ extensions: [sniExt(...entries)] }));
  t.equal(done(t, name('WWW.Example.COM')).serverName, 'www.example.com', 'lowercased');
  t.equal(done(t, name('svc_a.ns.svc.example')).serverName, 'svc_a.ns.svc.example');
  t.equal(done(t, name([7, 'ignored'])).serverName, null, 'unknown name type alone');
  t.equal(
    done(t, name([7, 'x'], 'real.example', [9, Buffer.alloc(3)])).serverName,
    'real.example',
    'unknown types skipped',
  );
  t.equal(
    parseClientHello(helloRecord({ extensions: [sniExt('one.example', 'two.example')] })).kind,
    'invalid',
  );
  badSpec(t, { extensions: [sniExt('one.example', 'two.example')] }, /more than one host_name/);
  badSpec(t, { extensions: [sniExt('')] }, /empty host_name/);
  badSpec(t, { extensions: [ext(0, Buffer.alloc(0))] }, /truncated server_name list/);
  badSpec(t, { extensions: [ext(0, u16(0))] }, /empty server_name list/);
  badSpec(
    t,
    { extensions: [ext(0, Buffer.concat([u16(5), Buffer.from([0, 0, 9, 0x61, 0x62])]))] },
    /overruns its list/,
  );
  badSpec(
    t,
    { extensions: [ext(0, Buffer.concat([u16(2), Buffer.from([0, 0])]))] },
    /truncated server_name entry/,
  );
  badSpec(
    t,
    { extensions: [ext(0, Buffer.concat([u16(9), Buffer.from([0, 0, 1, 0x61])]))] },
    /does not match/,
  );
  for (const [raw, why] of [
    ['example.com.', /trailing dot/],
    ['exa mple.com', /LDH/],
    ['-bad.example', /LDH/],
    ['a..example', /empty label/],
    ['192.0.2.1', /IP literal/],
    ['2001:db8::1', /IP literal/],
    ['[2001:db8::1]', /IP literal/],
    ['host.123', /numeric/],
    [`${'a'.repeat(64)}.example`, /63/],
  ] as const) {
    badSpec(t, { extensions: [sniExt(raw)] }, why, 'EDGE_BAD_NAME');
  }
  // Control and non-ASCII bytes are rejected, and the reason carries them escaped.
  for (const raw of [
    'evil\x00.example',
    'ex\u00e4mple.com',
    'a\r\nInjected: 1',
    'bell\x07.example',
    'x\x7f.example',
  ]) {
    const r = name(raw);
    t.equal(r.kind, 'invalid');
    if (r.kind === 'invalid') {
      t.equal(r.code, 'EDGE_BAD_NAME');
      t.ok(isPrintableAscii(r.reason), `reason is printable: ${r.reason}`);
      t.match(r.reason, /\\x\{/);
    }
  }
  t.end();
});

t.test('ALPN (RFC 7301 §3.1)', (t) => {
  const alpn = (...names: string[]) => parseClientHello(helloRecord({ extensions: [alpnExt(...names)] }));
  t.same(
    done(t, alpn('h2', 'http/1.1', 'acme-tls/1')).alpn,
    ['h2', 'http/1.1', 'acme-tls/1'],
    'client order',
  );
  t.same(done(t, alpn('\x00\xff', 'x')).alpn, ['\x00\xff', 'x'], 'non-printable names as latin1');
  t.same(done(t, alpn('z'.repeat(255))).alpn, ['z'.repeat(255)]);
  badSpec(t, { extensions: [alpnExt('h2', '')] }, /empty ALPN protocol name/);
  badSpec(t, { extensions: [ext(16, u16(0))] }, /empty ALPN list/);
  badSpec(t, { extensions: [ext(16, Buffer.alloc(1))] }, /truncated ALPN list/);
  badSpec(
    t,
    { extensions: [ext(16, Buffer.concat([u16(4), Buffer.from([2, 0x68, 0x32])]))] },
    /does not match/,
  );
  badSpec(t, { extensions: [ext(16, Buffer.concat([u16(3), Buffer.from([5, 0x68, 0x32])]))] }, /overruns/);
  t.end();
});

t.test('supported_versions (RFC 8446 §4.2.1)', (t) => {
  const sv = (e: ReturnType<typeof ext>) => parseClientHello(helloRecord({ extensions: [e] }));
  t.same(
    done(t, sv(supportedVersionsExt(0x0a0a, 0x0304, 0x0303))).supportedVersions,
    [0x0a0a, 0x0304, 0x0303],
  );
  badSpec(t, { extensions: [ext(43, Buffer.alloc(0))] }, /truncated supported_versions/);
  badSpec(t, { extensions: [ext(43, Buffer.from([0]))] }, /supported_versions length 0/);
  badSpec(t, { extensions: [ext(43, Buffer.from([3, 3, 4, 3]))] }, /supported_versions length 3/);
  badSpec(t, { extensions: [ext(43, Buffer.from([4, 3, 4]))] }, /supported_versions length 4/);
  t.end();
});

t.test('size limit: decided from declared lengths, before buffering', (t) => {
  // A 4-byte handshake header declaring 70,000 bytes is refused on byte 9 of the stream.
  const header = Buffer.concat([Buffer.from([22, 3, 1, 0x40, 0x00]), Buffer.from([1, 0x01, 0x11, 0x70])]);
  expectInvalid(t, header, 'EDGE_HELLO_TOO_LARGE', /70004 bytes/);
  t.equal(parseClientHello(header.subarray(0, 8)).kind, 'need-more');
  // The real 2,401-byte hello against smaller limits: refused once its first 9 bytes are in.
  const big = corpus.find((c) => c.entry.name === 'openssl-large-multi-record');
  if (!big) throw new Error('missing fixture');
  const n = big.bytes.length;
  t.equal(done(t, parseClientHello(big.bytes, { maxHelloBytes: n })).recordBytes, n, 'exactly at the limit');
  // Its first record (512 bytes) declares a 2,376-byte message: at least 2,386 input bytes.
  expectInvalid(t, big.bytes.subarray(0, 9), 'EDGE_HELLO_TOO_LARGE', /needs at least 2386 input bytes/, {
    maxHelloBytes: 2385,
  });
  t.equal(parseClientHello(big.bytes.subarray(0, 8), { maxHelloBytes: 2385 }).kind, 'need-more');
  // One byte under its real size: refused by the header of the fifth record, which would end past it.
  const fifthHeader = 4 * 517 + 5;
  expectInvalid(t, big.bytes.subarray(0, fifthHeader), 'EDGE_HELLO_TOO_LARGE', /record ends at byte 2401/, {
    maxHelloBytes: n - 1,
  });
  t.equal(
    parseClientHello(big.bytes.subarray(0, fifthHeader - 1), { maxHelloBytes: n - 1 }).kind,
    'need-more',
  );
  // A single record longer than the limit is refused from its header.
  expectInvalid(t, Buffer.from([22, 3, 1, 0x10, 0x00]), 'EDGE_HELLO_TOO_LARGE', /over the 1000-byte limit/, {
    maxHelloBytes: 1000,
  });
  // The default limit is 64 KiB: a 65,524-byte message needs 4 records (65,544 bytes); 65,504 fits.
  expectInvalid(t, Buffer.from([22, 3, 1, 0x40, 0x00, 1, 0x00, 0xff, 0xf0]), 'EDGE_HELLO_TOO_LARGE', /65544/);
  t.equal(parseClientHello(Buffer.from([22, 3, 1, 0x40, 0x00, 1, 0x00, 0xff, 0xdc])).kind, 'need-more');
  const pq = pqHello();
  t.equal(parseClientHello(pq, { maxHelloBytes: 1500 }).kind, 'invalid');
  t.end();
});

t.test('createTlsSniffer: the shared Sniffer shape', (t) => {
  const sniffer = createTlsSniffer();
  t.equal(sniffer.protocol, 'tls');
  const first = corpus[0];
  if (!first) throw new Error('empty corpus');
  t.same(sniffer.sniff(first.bytes), parseClientHello(first.bytes));
  t.equal(sniffer.sniff(Buffer.alloc(0)).kind, 'need-more');
  const small = createTlsSniffer({ maxHelloBytes: 100 });
  const r = small.sniff(first.bytes);
  t.equal(r.kind === 'invalid' && r.code, 'EDGE_HELLO_TOO_LARGE');
  t.end();
});
