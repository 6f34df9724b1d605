import t from 'tap';
import { CertificateIndex, certificateCovers, certificateCoversPattern } from '../../../src/tls/select.js';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const YEAR = 365 * 86_400_000;

interface Entry {
  id: string;
  names: string[];
  notBefore: number;
  notAfter: number;
  generated: boolean;
}

function entry(id: string, names: string[], extra: Partial<Entry> = {}): Entry {
  return { id, names, notBefore: NOW - YEAR, notAfter: NOW + YEAR, generated: false, ...extra };
}

t.test('exact SAN beats wildcard SAN, wildcard covers exactly one label', async (t) => {
  const exact = entry('exact', ['a.example.com', 'b.example.com']);
  const wildcard = entry('wildcard', ['*.example.com']);
  const index = new CertificateIndex([wildcard, exact], { now: NOW });
  t.same(index.select('a.example.com'), { entry: exact, match: 'exact' });
  t.same(index.select('b.example.com'), { entry: exact, match: 'exact' });
  t.same(index.select('c.example.com'), { entry: wildcard, match: 'wildcard' });
  // RFC 6125 §6.4.3: one label only, and never the parent itself.
  t.equal(index.select('x.c.example.com'), null);
  t.equal(index.select('example.com'), null);
  t.equal(index.select(null), null);
});

t.test('default: the certificate covering defaultName, used for unknown names and no SNI', async (t) => {
  const exact = entry('exact', ['a.example.com']);
  const fallback = entry('default', ['default.example.net']);
  const index = new CertificateIndex([exact, fallback], { now: NOW, defaultName: 'Default.Example.NET' });
  t.same(index.select('zzz.example.org'), { entry: fallback, match: 'default' });
  t.same(index.select(null), { entry: fallback, match: 'default' });
  t.same(index.select('a.example.com'), { entry: exact, match: 'exact' });
  t.equal(index.lookup('zzz.example.org'), null, 'lookup never falls back');
});

t.test('a default name no certificate covers gives the fallback, else nothing', async (t) => {
  const exact = entry('exact', ['a.example.com']);
  const generated = entry('gen', ['edge46.invalid'], { generated: true });
  t.equal(new CertificateIndex([exact], { now: NOW, defaultName: 'nope.example' }).select('x.example'), null);
  const index = new CertificateIndex([exact], { now: NOW, defaultName: 'nope.example', fallback: generated });
  t.same(index.select('x.example'), { entry: generated, match: 'default' });
  t.same(new CertificateIndex([exact], { now: NOW, fallback: generated }).select(null), {
    entry: generated,
    match: 'default',
  });
});

t.test(
  'several certificates for one name: loaded > generated, valid > not valid, later expiry wins',
  async (t) => {
    const generated = entry('gen', ['a.example.com'], { generated: true, notAfter: NOW + 10 * YEAR });
    const expired = entry('expired', ['a.example.com'], { notAfter: NOW - 1 });
    const early = entry('early', ['a.example.com'], { notAfter: NOW + YEAR });
    const late = entry('late', ['a.example.com'], { notAfter: NOW + 2 * YEAR });
    const future = entry('future', ['a.example.com'], { notBefore: NOW + 1, notAfter: NOW + 5 * YEAR });
    const pick = (list: Entry[]): string | undefined =>
      new CertificateIndex(list, { now: NOW }).select('a.example.com')?.entry.id;
    t.equal(pick([generated, expired]), 'expired', 'a loaded expired one still beats a generated one');
    t.equal(pick([expired, early]), 'early');
    t.equal(pick([late, early]), 'late');
    t.equal(pick([early, late]), 'late', 'order of loading does not matter');
    t.equal(pick([future, early]), 'early', 'not yet valid loses');
    const wild = (list: Entry[]): string | undefined =>
      new CertificateIndex(list, { now: NOW }).select('q.example.com')?.entry.id;
    t.equal(
      wild([
        entry('w1', ['*.example.com'], { notAfter: NOW + YEAR }),
        entry('w2', ['*.example.com'], { notAfter: NOW + 3 * YEAR }),
      ]),
      'w2',
    );
  },
);

t.test('odd SAN entries are never matched as wildcards', async (t) => {
  const odd = entry('odd', ['f*.example.com', 'a.*.example.com']);
  const index = new CertificateIndex([odd], { now: NOW });
  t.equal(index.select('foo.example.com'), null);
  t.equal(index.select('a.b.example.com'), null);
});

t.test('certificateCovers and certificateCoversPattern', async (t) => {
  t.ok(certificateCovers(['a.example.com'], 'a.example.com'));
  t.ok(certificateCovers(['*.example.com'], 'a.example.com'));
  t.notOk(certificateCovers(['*.example.com'], 'example.com'));
  t.notOk(certificateCovers(['*.example.com'], 'a.b.example.com'));
  t.notOk(certificateCovers(['a.example.com'], 'b.example.com'));
  t.notOk(certificateCovers(['*.com'], 'localhost'));
  t.ok(certificateCoversPattern(['*.apps.example'], '*.apps.example'));
  t.notOk(
    certificateCoversPattern(['x.apps.example'], '*.apps.example'),
    'one name does not cover a wildcard route',
  );
  t.ok(certificateCoversPattern(['*.example.com'], 'www.example.com'));
  t.notOk(certificateCoversPattern(['*.example.com'], '*'));
});
