/**
 * Seeded random-mutation fuzzing over the captured corpus and crafted hellos. Bounded (ITERATIONS
 * mutants) and deterministic (SEED), so a failure reproduces; set FUZZ_SEED to explore other seeds.
 */
import t from 'tap';
import { ERROR_CODES } from '../../../src/errors.js';
import { normalizeHostname } from '../../../src/route/hostname.js';
import { parseClientHello, type ClientHelloOptions } from '../../../src/sniff/tls-client-hello.js';
import {
  alpnExt,
  ext,
  helloRecord,
  keyShareExt,
  loadCorpus,
  records,
  sniExt,
  supportedVersionsExt,
  unwrapRecords,
} from './client-hello-builder.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed46);
const ITERATIONS = 20_000;

/** mulberry32: a small, fast, seedable PRNG (quality is ample for picking mutations). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = prng(SEED);
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;

function seeds(): Buffer[] {
  const out = loadCorpus().map((c) => c.bytes);
  const pq = helloRecord({
    extensions: [
      sniExt('pq.example'),
      alpnExt('h2', 'http/1.1'),
      supportedVersionsExt(0x0304, 0x0303),
      keyShareExt([0x11ec, 1216], [0x001d, 32]),
    ],
  });
  out.push(pq, records(unwrapRecords(pq), [300]), records(unwrapRecords(pq), [1, 3, 7]));
  out.push(
    helloRecord({ extensions: null }),
    helloRecord({ extensions: [sniExt([5, 'x'], 'a.example'), ext(21, Buffer.alloc(3))] }),
  );
  return out;
}

const SPECIAL = [0x00, 0x01, 0x02, 0x03, 0x04, 0x16, 0x20, 0x2e, 0x7f, 0x80, 0xfe, 0xff];

function mutate(input: Buffer): Buffer {
  let b = Buffer.from(input);
  const steps = 1 + int(4);
  for (let s = 0; s < steps; s++) {
    const at = int(b.length + 1);
    switch (int(8)) {
      case 0: // flip a bit
        if (b.length > 0) b[at % b.length] = (b[at % b.length] ?? 0) ^ (1 << int(8));
        break;
      case 1: // a boundary value
        if (b.length > 0) b[at % b.length] = pick(SPECIAL);
        break;
      case 2: // a random 16-bit length somewhere
        if (b.length > 1) b.writeUInt16BE(rand() < 0.5 ? int(0x10000) : int(64), at % (b.length - 1));
        break;
      case 3: // truncate
        b = b.subarray(0, at);
        break;
      case 4: // delete a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + int(16))]);
        break;
      case 5: // insert random bytes
        b = Buffer.concat([
          b.subarray(0, at),
          Buffer.from(Array.from({ length: 1 + int(8) }, () => int(256))),
          b.subarray(at),
        ]);
        break;
      case 6: {
        // duplicate a range (repeats extensions, entries, records)
        const len = 1 + int(40);
        b = Buffer.concat([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)]);
        break;
      }
      default: // append garbage after the hello
        b = Buffer.concat([b, Buffer.from(Array.from({ length: int(32) }, () => int(256)))]);
    }
  }
  return b;
}

function printable(s: string): boolean {
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if ((c < 0x20 || c > 0x7e) && ch !== '…') return false;
  }
  return true;
}

t.test(`fuzz: ${ITERATIONS} mutants (seed ${SEED}) never throw and always return one of three kinds`, (t) => {
  const corpus = seeds();
  const codes = new Set<string>(ERROR_CODES);
  const problems: string[] = [];
  const kinds = { done: 0, 'need-more': 0, invalid: 0 };
  const report = (what: string, input: Buffer): void => {
    if (problems.length < 5) problems.push(`${what}: ${input.toString('hex').slice(0, 200)}`);
  };
  for (let i = 0; i < ITERATIONS; i++) {
    const input = mutate(pick(corpus));
    const max = pick([undefined, 100, 512, 1400, 4096]);
    const opts: ClientHelloOptions = max === undefined ? {} : { maxHelloBytes: max };
    let r;
    try {
      r = parseClientHello(input, opts);
    } catch (err) {
      report(`threw ${String(err)}`, input);
      continue;
    }
    kinds[r.kind]++;
    if (r.kind === 'invalid') {
      if (!codes.has(r.code)) report(`unknown code ${r.code}`, input);
      if (r.reason.length === 0 || !printable(r.reason))
        report(`bad reason ${JSON.stringify(r.reason)}`, input);
    } else if (r.kind === 'done') {
      const h = r.value;
      if (h.recordBytes <= 0 || h.recordBytes > input.length) report(`recordBytes ${h.recordBytes}`, input);
      if (h.recordBytes > (max ?? 65536)) report(`recordBytes ${h.recordBytes} over limit ${max}`, input);
      if (h.serverName !== null) {
        const n = normalizeHostname(h.serverName);
        if (!n.ok || n.name !== h.serverName) report(`serverName ${h.serverName} not normalised`, input);
      }
      if (h.alpn.some((a) => a.length === 0 || a.length > 255)) report('bad alpn entry', input);
      // The hello alone gives the same answer, and any shorter prefix of it is need-more.
      const alone = parseClientHello(input.subarray(0, h.recordBytes), opts);
      if (JSON.stringify(alone) !== JSON.stringify(r)) report('hello alone differs', input);
      const cut = int(h.recordBytes);
      if (parseClientHello(input.subarray(0, cut), opts).kind !== 'need-more')
        report(`prefix ${cut} not need-more`, input);
    }
  }
  t.same(problems, [], 'no crashes or contract violations');
  t.ok(kinds.done > 0 && kinds['need-more'] > 0 && kinds.invalid > 0, `kinds seen: ${JSON.stringify(kinds)}`);
  t.end();
});
