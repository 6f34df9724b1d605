/**
 * Every error answer of the http listener, each produced by a real cause: a stopped backend, a backend
 * that never answers, a DNS server that never answers, NXDOMAIN / A-only / out-of-allowlist names from
 * a real dnsmasq, backends that reset or send garbage or die mid-response, bad request bytes on a raw
 * socket, a slow client, an oversized head, the connection limit. Each gets its status, a text/plain
 * body naming the reason, and one access-log line with the code. (A black-holed backend address:
 * errors-netns.test.ts.)
 */
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import http from 'node:http';
import { connect, createServer, type AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { request } from 'undici';
import { startDnsmasq } from '../../helpers/dnsmasq.js';
import { withEdge, type Edge } from '../../helpers/edge.js';
import { httpConfig, openSocket, parseRawResponse, rawExchange, startHttpBackend } from './backends.js';

function hasCommand(cmd: string): Promise<boolean> {
  return new Promise((resolve) =>
    execFile('sh', ['-c', `command -v ${cmd}`], (err) => resolve(err === null)),
  );
}
const noDnsmasq = (await hasCommand('dnsmasq')) ? false : 'dnsmasq is not installed';

/** GET with `host` through the edge; resolves with status, headers and body. */
async function get(edge: Edge, host: string, path = '/') {
  const res = await request(`http://127.0.0.1:${edge.port()}${path}`, { headers: { host } });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

/** The access-log line with this code. */
function logged(edge: Edge, code: string) {
  return edge.logs.waitFor((r) => r.msg === 'request' && r.code === code);
}

function assertError(
  t: Test,
  res: { status: number; headers: Record<string, unknown>; body: string },
  status: number,
  code: string,
): void {
  t.equal(res.status, status, `status ${status}`);
  t.match(res.headers['content-type'], /^text\/plain/);
  t.match(res.body, new RegExp(`^${status} [A-Za-z -]+\\n${code}`), 'body names the reason');
}

t.test('stopped backend → 502 EDGE_CONNECT_REFUSED', async (t) => {
  const backend = await startHttpBackend(t, 'gone');
  await backend.stop();
  const edge = await withEdge(
    t,
    httpConfig({ routes: [{ host: 'web.example', target: `[::1]:${backend.port}` }] }),
  );
  assertError(t, await get(edge, 'web.example'), 502, 'EDGE_CONNECT_REFUSED');
  t.match(await logged(edge, 'EDGE_CONNECT_REFUSED'), {
    status: 502,
    outcome: 'connect_failed',
    host: 'web.example',
    reason: new RegExp(`\\[::1\\]:${backend.port} ECONNREFUSED`),
  });
});

t.test('slow backend → 504 EDGE_UPSTREAM_TIMEOUT after http.upstream.headersTimeoutMs', async (t) => {
  const backend = await startHttpBackend(t, 'slow', () => {
    /* never answers */
  });
  const edge = await withEdge(
    t,
    httpConfig({
      http: { upstream: { headersTimeoutMs: 300 } },
      routes: [{ host: 'web.example', target: `[::1]:${backend.port}` }],
    }),
  );
  assertError(t, await get(edge, 'web.example'), 504, 'EDGE_UPSTREAM_TIMEOUT');
  t.match(await logged(edge, 'EDGE_UPSTREAM_TIMEOUT'), { status: 504, outcome: 'timeout' });
  t.equal(backend.requests.length, 1, 'the backend did get the request');
});

t.test('a DNS server that never answers → 504 EDGE_RESOLVE_TIMEOUT', async (t) => {
  const silent = createSocket('udp4');
  silent.on('message', () => {
    /* swallowed: the query times out */
  });
  silent.bind(0, '127.0.0.1');
  await once(silent, 'listening');
  t.teardown(() => silent.close());
  const edge = await withEdge(
    t,
    httpConfig({
      resolver: { servers: [`127.0.0.1:${silent.address().port}`], timeoutMs: 200, attempts: 1 },
      routes: [{ host: '*.example', target: '{host}' }],
    }),
  );
  assertError(t, await get(edge, 'web.example'), 504, 'EDGE_RESOLVE_TIMEOUT');
  t.match(await logged(edge, 'EDGE_RESOLVE_TIMEOUT'), { status: 504, outcome: 'resolve_failed' });
});

t.test('names that resolve to nothing usable → 502', { skip: noDnsmasq }, async (t) => {
  const dns = await startDnsmasq(null, {
    listen: '127.0.0.1',
    zone: 'c2.example',
    records: [
      { name: 'legacy.c2.example', a: ['192.0.2.80'], ttl: 300 },
      { name: 'outside.c2.example', aaaa: ['2001:db8:99::10'], ttl: 300 },
    ],
    t,
  });
  const edge = await withEdge(
    t,
    httpConfig({
      resolver: { servers: [dns.server], timeoutMs: 1000, attempts: 1 },
      routes: [{ host: '*.c2.example', target: '{host}' }],
    }),
  );
  const cases: [string, string, string][] = [
    ['missing.c2.example', 'EDGE_RESOLVE_NXDOMAIN', 'resolve_failed'],
    ['legacy.c2.example', 'EDGE_RESOLVE_NODATA', 'resolve_failed'],
    ['outside.c2.example', 'EDGE_BLOCKED_ADDRESS', 'blocked'],
  ];
  for (const [host, code, outcome] of cases) {
    assertError(t, await get(edge, host), 502, code);
    t.match(await logged(edge, code), { status: 502, outcome, host });
  }
});

t.test('backend resets before answering → 502 EDGE_UPSTREAM_RESET', async (t) => {
  const backend = await startHttpBackend(t, 'reset', (req) => req.socket.resetAndDestroy());
  const edge = await withEdge(
    t,
    httpConfig({ routes: [{ host: 'web.example', target: `[::1]:${backend.port}` }] }),
  );
  assertError(t, await get(edge, 'web.example'), 502, 'EDGE_UPSTREAM_RESET');
  t.match(await logged(edge, 'EDGE_UPSTREAM_RESET'), { status: 502, outcome: 'reset' });
});

t.test('backend answers garbage → 502 EDGE_UPSTREAM_BAD_RESPONSE', async (t) => {
  const server = createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n'));
  });
  server.listen(0, '::1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const edge = await withEdge(t, httpConfig({ routes: [{ host: 'web.example', target: `[::1]:${port}` }] }));
  assertError(t, await get(edge, 'web.example'), 502, 'EDGE_UPSTREAM_BAD_RESPONSE');
  t.match(await logged(edge, 'EDGE_UPSTREAM_BAD_RESPONSE'), { status: 502, outcome: 'bad_response' });
});

t.test(
  'a backend dying mid-response ends the client connection (never a complete-looking response)',
  async (t) => {
    const part = Buffer.alloc(64 * 1024, 'x');
    const backend = await startHttpBackend(t, 'dies', (req, res) => {
      if (req.url === '/length') res.writeHead(200, { 'content-length': String(4 * part.length) });
      else res.writeHead(200); // chunked
      res.write(part, () => setImmediate(() => req.socket.resetAndDestroy()));
    });
    const edge = await withEdge(
      t,
      httpConfig({ routes: [{ host: 'web.example', target: `[::1]:${backend.port}` }] }),
    );
    for (const path of ['/length', '/chunked']) {
      // A raw client sees exactly what went out: the head, part of the body, then the connection ends.
      const answer = await rawExchange(edge.port(), `GET ${path} HTTP/1.1\r\nHost: web.example\r\n\r\n`);
      const raw = parseRawResponse(answer.text);
      t.equal(raw.status, 200, `${path}: the head had gone out`);
      if (path === '/chunked') t.notMatch(answer.text, /\r\n0\r\n\r\n$/, 'no last chunk');
      else t.ok(Buffer.byteLength(raw.body, 'latin1') < 4 * part.length, 'fewer bytes than Content-Length');
      // node's client notices: the response never completes.
      const req = http.get({ host: '127.0.0.1', port: edge.port(), path, headers: { host: 'web.example' } });
      req.on('error', () => {});
      const [res] = (await once(req, 'response')) as [http.IncomingMessage];
      res.on('error', () => {}); // "aborted": what the assertion below checks
      res.resume();
      await new Promise((resolve) => res.on('close', resolve));
      t.equal(res.complete, false, `${path}: node's client sees an incomplete response`);
    }
    let seen = 0;
    const last = await edge.logs.waitFor(
      (r) => r.msg === 'request' && r.code === 'EDGE_UPSTREAM_RESET' && ++seen === 4,
    );
    t.match(last, { status: 200, outcome: 'reset', reason: /mid-response/ });
  },
);

t.test('bad request bytes → 400 EDGE_BAD_REQUEST and the connection is closed', async (t) => {
  const backend = await startHttpBackend(t, 'A');
  const edge = await withEdge(
    t,
    httpConfig({ routes: [{ host: 'web.example', target: `[::1]:${backend.port}` }] }),
  );
  const answer = await rawExchange(edge.port(), 'HELLO THERE\r\n\r\n');
  const raw = parseRawResponse(answer.text);
  t.match(raw, {
    status: 400,
    headers: { 'content-type': /text\/plain/, connection: 'close' },
    body: /EDGE_BAD_REQUEST/,
  });
  t.equal(answer.ended, true);
  t.match(await logged(edge, 'EDGE_BAD_REQUEST'), { status: 400, outcome: 'bad_request', reason: /HPE_/ });
  t.equal(backend.requests.length, 0);
});

t.test('routing refusals: unknown host 421, IP literal 421, no Host 400, two Hosts 400', async (t) => {
  const backend = await startHttpBackend(t, 'A');
  const edge = await withEdge(
    t,
    httpConfig({ routes: [{ host: 'web.example', target: `[::1]:${backend.port}` }] }),
  );
  assertError(t, await get(edge, 'unknown.example'), 421, 'EDGE_NO_ROUTE');
  assertError(t, await get(edge, '127.0.0.1'), 421, 'EDGE_IP_LITERAL');
  assertError(t, await get(edge, '[::1]:80'), 421, 'EDGE_IP_LITERAL');
  const noHost = parseRawResponse(
    (await rawExchange(edge.port(), 'GET / HTTP/1.1\r\nConnection: close\r\n\r\n')).text,
  );
  t.match(noHost, { status: 400, body: /EDGE_NO_HOST/ });
  const twoHosts = parseRawResponse(
    (
      await rawExchange(
        edge.port(),
        'GET / HTTP/1.1\r\nHost: web.example\r\nHost: evil.example\r\nConnection: close\r\n\r\n',
      )
    ).text,
  );
  t.match(twoHosts, { status: 400, body: /EDGE_BAD_HOST: more than one Host header/ });
  for (const code of ['EDGE_NO_ROUTE', 'EDGE_IP_LITERAL', 'EDGE_NO_HOST', 'EDGE_BAD_HOST'])
    await logged(edge, code);
  t.equal(backend.requests.length, 0);
});

t.test('over maxConnections → 503 EDGE_OVER_CAPACITY', async (t) => {
  const backend = await startHttpBackend(t, 'A');
  const edge = await withEdge(
    t,
    httpConfig({
      listeners: [
        { name: 'web', address: '127.0.0.1:0', protocol: 'http', backendPort: 80, maxConnections: 1 },
      ],
      routes: [{ host: 'web.example', target: `[::1]:${backend.port}` }],
    }),
  );
  // A kept-alive connection that has been served holds the only slot.
  const held = await openSocket(t, edge.port());
  held.write('GET / HTTP/1.1\r\nHost: web.example\r\n\r\n');
  await once(held, 'data');
  const answer = await rawExchange(edge.port(), 'GET / HTTP/1.1\r\nHost: web.example\r\n\r\n');
  t.match(parseRawResponse(answer.text), {
    status: 503,
    headers: { 'content-type': /text\/plain/, connection: 'close' },
    body: '503 Service Unavailable\nEDGE_OVER_CAPACITY\n',
  });
  t.match(await edge.logs.waitFor((r) => r.code === 'EDGE_OVER_CAPACITY'), { outcome: 'overload' });
});

t.test('a slow client gets 408 EDGE_REQUEST_TIMEOUT after http.headersTimeoutMs', async (t) => {
  const edge = await withEdge(t, httpConfig({ http: { headersTimeoutMs: 300 }, routes: [] }));
  const answer = await rawExchange(edge.port(), 'GET / HTTP/1.1\r\nHost: web.exa');
  t.match(parseRawResponse(answer.text), { status: 408, body: /EDGE_REQUEST_TIMEOUT/ });
  t.match(await logged(edge, 'EDGE_REQUEST_TIMEOUT'), { status: 408, outcome: 'timeout' });
});

t.test('a head over http.maxHeaderSize → 431', async (t) => {
  const edge = await withEdge(t, httpConfig({ http: { maxHeaderSize: 1024 }, routes: [] }));
  const answer = await rawExchange(
    edge.port(),
    `GET / HTTP/1.1\r\nHost: web.example\r\nX-Big: ${'a'.repeat(2000)}\r\n\r\n`,
  );
  t.match(parseRawResponse(answer.text), { status: 431, body: /EDGE_HEADERS_TOO_LARGE/ });
  await logged(edge, 'EDGE_HEADERS_TOO_LARGE');
});

t.test('CONNECT → 405 (a reverse proxy, not a forward proxy)', async (t) => {
  const edge = await withEdge(t, httpConfig({ routes: [] }));
  const answer = await rawExchange(
    edge.port(),
    'CONNECT web.example:443 HTTP/1.1\r\nHost: web.example:443\r\n\r\n',
  );
  t.match(parseRawResponse(answer.text), { status: 405, body: /EDGE_METHOD_NOT_ALLOWED/ });
  t.match(await logged(edge, 'EDGE_METHOD_NOT_ALLOWED'), { method: 'CONNECT', status: 405 });
});

t.test('a client leaving mid-response aborts the backend exchange', async (t) => {
  let backendClosed: (() => void) | null = null;
  const closed = new Promise<void>((resolve) => (backendClosed = resolve));
  const backend = await startHttpBackend(t, 'stream', (_req, res) => {
    res.writeHead(200);
    res.write('first part');
    res.on('close', () => backendClosed?.());
  });
  const edge = await withEdge(
    t,
    httpConfig({ routes: [{ host: 'web.example', target: `[::1]:${backend.port}` }] }),
  );
  const socket = connect({ host: '127.0.0.1', port: edge.port() });
  socket.on('error', () => {});
  socket.write('GET / HTTP/1.1\r\nHost: web.example\r\n\r\n');
  await once(socket, 'data');
  // A reset: a FIN alone is a half-close, after which the client may still read the response.
  socket.resetAndDestroy();
  await closed;
  t.match(await logged(edge, 'EDGE_CLIENT_CLOSED'), { status: 200, outcome: 'reset' });
});

t.test('maxRequestsPerConnection closes the connection after the last allowed response', async (t) => {
  const backend = await startHttpBackend(t, 'A');
  const edge = await withEdge(
    t,
    httpConfig({
      http: { maxRequestsPerConnection: 2 },
      routes: [{ host: 'web.example', target: `[::1]:${backend.port}` }],
    }),
  );
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const connections: string[] = [];
  for (let i = 0; i < 3; i++) {
    const req = http.get({ host: '127.0.0.1', port: edge.port(), agent, headers: { host: 'web.example' } });
    const [res] = (await once(req, 'response')) as [http.IncomingMessage];
    connections.push(String(res.headers.connection));
    res.resume();
    await once(res, 'end');
  }
  t.same(
    connections,
    ['keep-alive', 'close', 'keep-alive'],
    'the second response closes; the third is on a new connection',
  );
});
