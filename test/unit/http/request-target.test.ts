import t from 'tap';
import { parseRequestTarget, routingName } from '../../../src/http/request-target.js';

const one = (host: string) => [host];

t.test('origin-form routes by Host; the port is dropped for routing, kept in the authority', async (t) => {
  t.same(parseRequestTarget({ url: '/a?b=1', hostHeaders: one('Web.Example:8080'), httpVersion: '1.1' }), {
    ok: true,
    authority: 'Web.Example:8080',
    name: 'web.example',
    path: '/a?b=1',
    absolute: false,
  });
  t.match(parseRequestTarget({ url: '/', hostHeaders: one('web.example.'), httpVersion: '1.1' }), {
    ok: true,
    name: 'web.example',
  });
  t.match(parseRequestTarget({ url: '*', hostHeaders: one('web.example'), httpVersion: '1.1' }), {
    ok: true,
    path: '*',
  });
});

t.test('absolute-form wins over Host (RFC 9112 §3.2.2) and keeps the path as sent', async (t) => {
  t.same(
    parseRequestTarget({
      url: 'http://Other.Example:81/x/../y?q#',
      hostHeaders: one('web.example'),
      httpVersion: '1.1',
    }),
    { ok: false, code: 'EDGE_BAD_REQUEST', reason: 'fragment in request target' },
    'a fragment is not part of a request target',
  );
  t.same(
    parseRequestTarget({
      url: 'HTTP://Other.Example:81/x/../y?q',
      hostHeaders: one('web.example'),
      httpVersion: '1.1',
    }),
    { ok: true, authority: 'Other.Example:81', name: 'other.example', path: '/x/../y?q', absolute: true },
  );
  t.match(parseRequestTarget({ url: 'http://other.example', hostHeaders: one('x'), httpVersion: '1.1' }), {
    ok: true,
    path: '/',
  });
  t.match(
    parseRequestTarget({ url: 'http://other.example?x=1', hostHeaders: one('x'), httpVersion: '1.1' }),
    {
      ok: true,
      path: '/?x=1',
    },
  );
  t.match(parseRequestTarget({ url: 'https://other.example/', hostHeaders: [], httpVersion: '1.0' }), {
    ok: true,
    name: 'other.example',
  });
});

t.test('refusals, each with its code', async (t) => {
  const cases: [string, string[], string, string][] = [
    ['/', [], '1.1', 'EDGE_NO_HOST'],
    ['/', [''], '1.1', 'EDGE_NO_HOST'],
    ['/', [], '1.0', 'EDGE_NO_HOST'],
    ['/', ['a.example', 'b.example'], '1.1', 'EDGE_BAD_HOST'],
    ['/', ['bad_host..example'], '1.1', 'EDGE_BAD_HOST'],
    ['/', ['web.example:http'], '1.1', 'EDGE_BAD_HOST'],
    ['/', ['web.example:99999'], '1.1', 'EDGE_BAD_HOST'],
    ['/', ['[::1'], '1.1', 'EDGE_BAD_HOST'],
    ['/', ['127.0.0.1:8080'], '1.1', 'EDGE_IP_LITERAL'],
    ['/', ['[::1]:8080'], '1.1', 'EDGE_IP_LITERAL'],
    ['/', ['[2001:db8::1]'], '1.1', 'EDGE_IP_LITERAL'],
    ['/', ['10.1'], '1.1', 'EDGE_IP_LITERAL'],
    ['http://[::1]/', ['web.example'], '1.1', 'EDGE_IP_LITERAL'],
    ['http://user@web.example/', ['web.example'], '1.1', 'EDGE_BAD_REQUEST'],
    ['ftp://web.example/', ['web.example'], '1.1', 'EDGE_BAD_REQUEST'],
    ['http:///path', ['web.example'], '1.1', 'EDGE_NO_HOST'],
    ['web.example:80', ['web.example'], '1.1', 'EDGE_BAD_REQUEST'],
    ['x', ['web.example'], '1.1', 'EDGE_BAD_REQUEST'],
  ];
  for (const [url, hostHeaders, httpVersion, code] of cases) {
    t.match(
      parseRequestTarget({ url, hostHeaders, httpVersion }),
      { ok: false, code },
      `${url} ${hostHeaders.join('|')}`,
    );
  }
});

t.test('routingName accepts an empty port ("host:") as RFC 3986 does', async (t) => {
  t.same(routingName('web.example:'), { ok: true, name: 'web.example' });
  t.same(routingName('web.example:443'), { ok: true, name: 'web.example' });
});

t.test('a fragment is refused in either form', async (t) => {
  t.match(parseRequestTarget({ url: '/a#b', hostHeaders: ['web.example'], httpVersion: '1.1' }), {
    ok: false,
    code: 'EDGE_BAD_REQUEST',
  });
});
