import t from 'tap';
import { escapeForLog, normalizeHostname } from '../../../src/route/hostname.js';

t.test('valid names are lowercased', async (t) => {
  t.same(normalizeHostname('Web.Default.SVC.c2.k8s.example'), {
    ok: true,
    name: 'web.default.svc.c2.k8s.example',
  });
  t.same(normalizeHostname('a'), { ok: true, name: 'a' });
  t.same(normalizeHostname('_http._tcp.example'), { ok: true, name: '_http._tcp.example' });
  t.same(normalizeHostname('xn--bcher-kva.example'), { ok: true, name: 'xn--bcher-kva.example' });
});

t.test('trailing dot: refused for SNI, stripped for Host', async (t) => {
  t.match(normalizeHostname('web.example.'), { ok: false, reason: 'trailing dot' });
  t.same(normalizeHostname('web.example.', { allowTrailingDot: true }), { ok: true, name: 'web.example' });
});

t.test('invalid names', async (t) => {
  const bad = [
    '',
    '.',
    'a..b',
    '-a.example',
    'a-.example',
    'a b.example',
    'a\u0000.example',
    'ä.example',
    'a/b',
    `${'a'.repeat(64)}.example`,
    `${'a.'.repeat(127)}a`,
  ];
  for (const name of bad) t.equal(normalizeHostname(name).ok, false, JSON.stringify(name));
  t.same(normalizeHostname(`${'a'.repeat(63)}.example`).ok, true);
});

t.test('IP literals are never routed', async (t) => {
  for (const name of ['192.0.2.1', '::1', '[2001:db8::1]', '2001:db8::1', '1.2.3.4.5', '127.1']) {
    const result = normalizeHostname(name);
    t.equal(result.ok, false, name);
    if (!result.ok && name !== '1.2.3.4.5') t.equal(result.ipLiteral, true, `${name} flagged as IP literal`);
  }
});

t.test('escapeForLog escapes control and non-ASCII bytes and caps length', async (t) => {
  t.equal(escapeForLog('a\nb'), 'a\\x{a}b');
  t.equal(escapeForLog('\u001b[31m'), '\\x{1b}[31m');
  t.equal(escapeForLog('x'.repeat(300)).length, 257);
});
