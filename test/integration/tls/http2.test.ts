/**
 * HTTP/2 from clients on terminated connections, forwarded to HTTP/1.1 backends on [::1]; connection
 * coalescing (RFC 9113 §9.1.1) answered by the request's own authority or 421.
 */
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import type http from 'node:http';
import { startHttpBackend, type Handler } from '../http/backends.js';
import {
  curl,
  curlResult,
  edgeCa,
  h2Request,
  h2Session,
  httpsGet,
  startEdge,
  tlsFixtures as f,
} from './rig.js';

interface Seen {
  label: string;
  httpVersion: string;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  bodySha: string;
  bodyLength: number;
}

/** Answers JSON describing the request, including its HTTP version and a hash of its body. */
function echo(label: string): Handler {
  return (req, res) => {
    const hash = createHash('sha256');
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      length += chunk.length;
    });
    req.on('end', () => {
      const seen: Seen = {
        label,
        httpVersion: req.httpVersion,
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        bodySha: hash.digest('hex'),
        bodyLength: length,
      };
      res.writeHead(200, {
        'content-type': 'application/json',
        'x-backend': label,
        connection: 'keep-alive',
      });
      res.end(JSON.stringify(seen));
    });
  };
}

async function rig(t: Test) {
  const a = await startHttpBackend(t, 'a', echo('a'));
  const b = await startHttpBackend(t, 'b', echo('b'));
  const c = await startHttpBackend(t, 'c', echo('c'));
  const edge = await startEdge(t, {
    tls: { certificates: [f.files('exact'), f.files('wildcard')] },
    routes: [
      // exact.crt covers a.example.com and b.example.com; wildcard.crt covers c.example.com.
      { host: 'a.example.com', target: '[::1]', port: a.port, tls: 'terminate' },
      { host: 'b.example.com', target: '[::1]', port: b.port, tls: 'terminate' },
      { host: 'c.example.com', target: '[::1]', port: c.port, tls: 'terminate' },
      // Covered by exact.crt's SAN list? No: a passthrough route, never served from a terminated connection.
      { host: 'pass.example.com', target: '[::1]', port: a.port },
      { host: 'down.example.com', target: '[::1]', port: 1, tls: 'terminate' },
    ],
  });
  return { a, b, c, edge, port: edge.port() };
}

t.test('curl --http2 through a terminate route to an HTTP/1.1 backend on IPv6', async (t) => {
  const { a, port } = await rig(t);
  const r = curlResult(
    await curl(port, 'a.example.com', '/h2?x=1', [
      '--cacert',
      edgeCa,
      '--http2',
      '-H',
      'cookie: one=1',
      '-H',
      'x-custom: yes',
      '--data-binary',
      'hello over h2',
    ]),
  );
  t.equal(r.status, 200);
  t.equal(r.version, '2', 'the client spoke HTTP/2');
  const seen = JSON.parse(r.body) as Seen;
  t.equal(seen.httpVersion, '1.1', 'the backend was spoken to in HTTP/1.1');
  t.equal(seen.method, 'POST');
  t.equal(seen.url, '/h2?x=1');
  t.equal(seen.headers.host, `a.example.com:${port}`);
  t.equal(seen.headers['x-custom'], 'yes');
  t.equal(seen.headers['x-forwarded-proto'], 'https');
  t.equal(seen.bodyLength, 13);
  t.notOk(
    Object.keys(seen.headers).some((h) => h.startsWith(':')),
    'no pseudo-header reached the backend',
  );
  t.equal(a.requests[0]?.remoteAddress, '::1');
});

t.test(
  'HTTP/2 streams: bodies without Content-Length, split cookies, many streams on one session',
  async (t) => {
    const { port } = await rig(t);
    const session = await h2Session(t, port, 'a.example.com');
    const body = Buffer.alloc(1_000_000, 7);
    const post = await h2Request(
      session,
      { ':method': 'POST', ':path': '/upload', cookie: ['a=1', 'b=2'] },
      body,
    );
    t.equal(post.status, 200);
    const seen = JSON.parse(post.body) as Seen;
    t.equal(seen.bodyLength, body.length, 'a streamed body with no Content-Length arrives whole');
    t.equal(seen.bodySha, createHash('sha256').update(body).digest('hex'));
    t.equal(seen.headers['transfer-encoding'], 'chunked');
    t.equal(seen.headers.cookie, 'a=1; b=2', 'cookie fields joined for HTTP/1.1 (RFC 9113 §8.2.3)');
    const many = await Promise.all(
      Array.from({ length: 40 }, (_, i) => h2Request(session, { ':path': `/s${i}` })),
    );
    t.same(
      many.map((m) => m.status),
      many.map(() => 200),
    );
    t.same(
      many.map((m) => (JSON.parse(m.body) as Seen).url),
      many.map((_, i) => `/s${i}`),
    );
  },
);

t.test('coalescing: routed by each request authority when covered, else 421', async (t) => {
  const { a, b, c, edge, port } = await rig(t);
  const session = await h2Session(t, port, 'a.example.com');
  const ask = (authority: string): Promise<{ status: number; body: string }> =>
    h2Request(session, { ':path': '/co', ':authority': authority });

  const onA = await ask('a.example.com');
  t.equal(onA.status, 200);
  t.equal((JSON.parse(onA.body) as Seen).label, 'a');
  const onB = await ask('b.example.com');
  t.equal(onB.status, 200, 'b.example.com is covered by the same certificate and a terminate route');
  t.equal((JSON.parse(onB.body) as Seen).label, 'b', 'and goes to its own backend, not the SNI one');
  const onC = await ask('c.example.com');
  t.equal(onC.status, 421, 'c.example.com is a terminate route, but not covered by this certificate');
  t.match(onC.body, /Misdirected|421|does not cover/);
  const onPass = await ask('pass.example.com');
  t.equal(onPass.status, 421, 'a passthrough name is never served from a terminated connection');
  const unknown = await ask('nowhere.example.org');
  t.equal(unknown.status, 421, 'no route: 421 as on http listeners');
  t.equal(c.requests.length, 0);
  t.equal(a.requests.length, 1, 'nothing misdirected reached the SNI backend');
  t.equal(b.requests.length, 1);
  const codes = edge.logs.records.filter((r) => r.msg === 'request').map((r) => [r.host, r.status, r.code]);
  t.same(codes, [
    ['a.example.com', 200, undefined],
    ['b.example.com', 200, undefined],
    ['c.example.com', 421, 'EDGE_MISDIRECTED_REQUEST'],
    ['pass.example.com', 421, 'EDGE_MISDIRECTED_REQUEST'],
    ['nowhere.example.org', 421, 'EDGE_NO_ROUTE'],
  ]);

  // A new connection for c.example.com (the client's retry after 421) gets c's certificate and backend.
  const retry = await h2Session(t, port, 'c.example.com');
  const onRetry = await h2Request(retry, { ':path': '/co' });
  t.equal(onRetry.status, 200);
  t.equal((JSON.parse(onRetry.body) as Seen).label, 'c');
});

t.test('HTTP/1.1 over TLS: a Host the connection cannot serve is 421 too', async (t) => {
  const { a, b, c, port } = await rig(t);
  t.equal((await httpsGet(port, 'a.example.com', '/h1')).status, 200);
  const other = await httpsGet(port, 'a.example.com', '/h1', { host: 'b.example.com' });
  t.equal(other.status, 200);
  t.equal((JSON.parse(other.body) as Seen).label, 'b');
  t.equal((await httpsGet(port, 'a.example.com', '/h1', { host: 'c.example.com' })).status, 421);
  t.equal((await httpsGet(port, 'a.example.com', '/h1', { host: 'pass.example.com' })).status, 421);
  t.equal(a.requests.length + b.requests.length + c.requests.length, 2);
});

t.test('a failing backend is a 502 on its stream; the session carries on', async (t) => {
  const { port, edge } = await rig(t);
  const session = await h2Session(t, port, 'a.example.com');
  const down = await h2Request(session, { ':path': '/x', ':authority': 'down.example.com' });
  t.equal(down.status, 421, 'down.example.com is not covered by a.example.com certificate');
  const direct = await h2Session(t, port, 'down.example.com');
  const refused = await h2Request(direct, { ':path': '/x' });
  t.equal(refused.status, 502);
  t.match(refused.body, /EDGE_CONNECT_REFUSED|refused/i);
  const after = await h2Request(direct, { ':path': '/y', ':authority': 'down.example.com' });
  t.equal(after.status, 502, 'same session, next stream');
  t.equal(direct.closed, false);
  t.ok(edge.logs.records.some((r) => r.msg === 'request' && r.code === 'EDGE_CONNECT_REFUSED'));
});
