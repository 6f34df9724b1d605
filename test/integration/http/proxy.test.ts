/**
 * The http listener on loopback with real clients (undici, node:http, curl, raw sockets) and real
 * node:http backends on [::1]: routing per request by Host, forwarding and hop-by-hop headers, HEAD,
 * 100-continue, chunked bodies and trailers, the access log. Name routes resolve through a real dnsmasq.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import t from 'tap';
import { Client, request } from 'undici';
import { startDnsmasq } from '../../helpers/dnsmasq.js';
import { withEdge, type LogCapture, type LogRecord } from '../../helpers/edge.js';
import { describeRequest, httpConfig, parseRawResponse, rawExchange, startHttpBackend } from './backends.js';

interface Seen {
  label: string;
  method: string;
  url: string;
  headers: Record<string, string>;
}

function hasCommand(cmd: string): Promise<boolean> {
  return new Promise((resolve) =>
    execFile('sh', ['-c', `command -v ${cmd}`], (err) => resolve(err === null)),
  );
}
const noCurl = (await hasCommand('curl')) ? false : 'curl is not installed';
const noDnsmasq = (await hasCommand('dnsmasq')) ? false : 'dnsmasq is not installed';

/** The first `n` access-log lines, once they have been written (log lines are parsed asynchronously). */
async function requestLines(logs: LogCapture, n: number): Promise<LogRecord[]> {
  let seen = 0;
  await logs.waitFor((r) => r.msg === 'request' && ++seen === n);
  return logs.records.filter((r) => r.msg === 'request').slice(0, n);
}

t.test('a node client reaches the IPv6 backend by Host; headers and the access log', async (t) => {
  const a = await startHttpBackend(t, 'A');
  const edge = await withEdge(
    t,
    httpConfig({ routes: [{ host: 'web.example', target: `[::1]:${a.port}` }] }),
  );
  const res = await request(`http://127.0.0.1:${edge.port()}/hello?x=1`, {
    headers: { host: 'web.example', 'x-forwarded-for': '203.0.113.9', forwarded: 'for=203.0.113.9' },
  });
  t.equal(res.statusCode, 200);
  t.equal(res.headers['x-backend'], 'A');
  const seen = (await res.body.json()) as Seen & { remote: string };
  t.match(seen, {
    label: 'A',
    method: 'GET',
    url: '/hello?x=1',
    remote: '::1',
    headers: {
      host: 'web.example',
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'web.example',
      forwarded: 'for=127.0.0.1;host=web.example;proto=http',
    },
  });
  const log = await edge.logs.waitFor((r) => r.msg === 'request');
  t.match(log, {
    listener: 'web',
    client: '127.0.0.1',
    host: 'web.example',
    method: 'GET',
    path: '/hello?x=1',
    status: 200,
    bytesIn: 0,
    route: 'web.example',
    upstream: `[::1]:${a.port}`,
    reused: false,
    outcome: 'ok',
    durations: { connect: Number, ttfb: Number, total: Number },
  });
  t.ok((log.bytesOut as number) > 50, 'response bytes counted');
});

t.test('curl through the http listener', { skip: noCurl }, async (t) => {
  const a = await startHttpBackend(t, 'A');
  const edge = await withEdge(
    t,
    httpConfig({ routes: [{ host: 'web.example', target: `[::1]:${a.port}` }] }),
  );
  const out = await new Promise<string>((resolve, reject) =>
    execFile(
      'curl',
      ['-sS', '-H', 'Host: web.example', '-d', 'payload', `http://127.0.0.1:${edge.port()}/form`],
      (err, stdout, stderr) => (err === null ? resolve(stdout) : reject(new Error(stderr))),
    ),
  );
  t.match(JSON.parse(out), { label: 'A', method: 'POST', url: '/form', headers: { host: 'web.example' } });
  t.match(await edge.logs.waitFor((r) => r.msg === 'request'), { status: 200, bytesIn: 7, outcome: 'ok' });
});

t.test('two Hosts on one keep-alive connection reach two backends', async (t) => {
  const a = await startHttpBackend(t, 'A');
  const b = await startHttpBackend(t, 'B');
  const edge = await withEdge(
    t,
    httpConfig({
      routes: [
        { host: 'a.example', target: `[::1]:${a.port}` },
        { host: '*.b.example', target: '[::1]', port: b.port },
      ],
    }),
  );
  // One undici Client is one connection.
  const client = new Client(`http://127.0.0.1:${edge.port()}`, { pipelining: 1 });
  t.teardown(() => client.close());
  const labels: string[] = [];
  for (const host of ['a.example', 'x.b.example', 'a.example']) {
    const res = await client.request({ path: '/', method: 'GET', headers: { host } });
    labels.push(((await res.body.json()) as Seen).label);
  }
  t.same(labels, ['A', 'B', 'A']);
  const lines = await requestLines(edge.logs, 3);
  t.equal(new Set(lines.map((l) => l.conn)).size, 1, 'all on one client connection');
  t.match(lines, [
    { upstream: `[::1]:${a.port}`, reused: false },
    { upstream: `[::1]:${b.port}`, route: '*.b.example' },
    { upstream: `[::1]:${a.port}`, reused: true },
  ]);
  t.notOk('connect' in (lines[2]?.durations as object), 'a reused backend connection has no connect time');
});

t.test('absolute-form target wins over Host; a Host port is not a backend port', async (t) => {
  const a = await startHttpBackend(t, 'A');
  const b = await startHttpBackend(t, 'B');
  const edge = await withEdge(
    t,
    httpConfig({
      routes: [
        { host: 'a.example', target: `[::1]:${a.port}` },
        { host: 'b.example', target: `[::1]:${b.port}` },
      ],
    }),
  );
  const abs = await rawExchange(
    edge.port(),
    'GET http://B.example:9/p/../q?r HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n',
  );
  const seen = JSON.parse(parseRawResponse(abs.text).body) as Seen;
  t.match(seen, { label: 'B', url: '/p/../q?r', headers: { host: 'B.example:9' } }, 'path passed as sent');
  const port = await request(`http://127.0.0.1:${edge.port()}/`, { headers: { host: 'a.example:1' } });
  t.match(await port.body.json(), { label: 'A', headers: { host: 'a.example:1' } });
});

t.test('a name route resolves AAAA through a real DNS server', { skip: noDnsmasq }, async (t) => {
  const a = await startHttpBackend(t, 'A');
  const dns = await startDnsmasq(null, {
    listen: '127.0.0.1',
    zone: 'c2.example',
    records: [{ name: 'web.c2.example', aaaa: ['::1'], ttl: 300 }],
    t,
  });
  const edge = await withEdge(
    t,
    httpConfig({
      listeners: [{ name: 'web', address: '127.0.0.1:0', protocol: 'http', backendPort: a.port }],
      resolver: { servers: [dns.server], timeoutMs: 1000, attempts: 1 },
      routes: [{ host: '*.apps.example', target: '{sub}.c2.example' }],
    }),
  );
  for (let i = 0; i < 2; i++) {
    const res = await request(`http://127.0.0.1:${edge.port()}/`, { headers: { host: 'web.apps.example' } });
    t.match(await res.body.json(), { label: 'A', headers: { host: 'web.apps.example' } });
  }
  const lines = await requestLines(edge.logs, 2);
  t.match(lines, [
    { target: `web.c2.example:${a.port}`, upstream: `[::1]:${a.port}`, durations: { resolve: Number } },
    { target: `web.c2.example:${a.port}`, reused: true },
  ]);
});

t.test('forwarding headers: trusted proxies append, per-route opt-out passes them untouched', async (t) => {
  const a = await startHttpBackend(t, 'A');
  const route = (host: string, forwardedHeaders?: boolean) => ({
    host,
    target: `[::1]:${a.port}`,
    ...(forwardedHeaders === undefined ? {} : { forwardedHeaders }),
  });
  const trusting = await withEdge(
    t,
    httpConfig({
      http: { trustedProxies: ['127.0.0.0/8'] },
      routes: [route('web.example'), route('raw.example', false)],
    }),
  );
  const incoming = {
    'x-forwarded-for': '203.0.113.9',
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'public.example',
    forwarded: 'for=203.0.113.9;proto=https',
  };
  const res = await request(`http://127.0.0.1:${trusting.port()}/`, {
    headers: { host: 'web.example', ...incoming },
  });
  t.match(await res.body.json(), {
    headers: {
      'x-forwarded-for': '203.0.113.9, 127.0.0.1',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'public.example',
      forwarded: 'for=203.0.113.9;proto=https, for=127.0.0.1;host=web.example;proto=http',
    },
  });
  const off = await request(`http://127.0.0.1:${trusting.port()}/`, { headers: { host: 'raw.example' } });
  const seen = (await off.body.json()) as Seen;
  t.notOk('x-forwarded-for' in seen.headers || 'forwarded' in seen.headers, 'nothing added');
  const passed = await request(`http://127.0.0.1:${trusting.port()}/`, {
    headers: { host: 'raw.example', ...incoming },
  });
  t.match(await passed.body.json(), { headers: incoming }, "the client's own pass untouched");
});

t.test('hop-by-hop headers are not forwarded either way', async (t) => {
  const a = await startHttpBackend(t, 'A', (req, res) => {
    res.writeHead(200, [
      'Connection',
      'keep-alive, X-Private',
      'X-Private',
      'secret',
      'Keep-Alive',
      'timeout=60',
      'Set-Cookie',
      'a=1',
      'Set-Cookie',
      'b=2',
      'X-Seen',
      JSON.stringify(req.headers),
    ]);
    res.end('ok');
  });
  const edge = await withEdge(
    t,
    httpConfig({ routes: [{ host: 'web.example', target: `[::1]:${a.port}` }] }),
  );
  const answer = await rawExchange(
    edge.port(),
    'GET / HTTP/1.1\r\nHost: web.example\r\nConnection: close, X-Secret\r\nX-Secret: 1\r\n' +
      'Keep-Alive: 300\r\nProxy-Authorization: Basic eDp5\r\nProxy-Connection: keep-alive\r\n' +
      'TE: trailers, deflate\r\nX-Kept: yes\r\n\r\n',
  );
  const raw = parseRawResponse(answer.text);
  t.equal(raw.status, 200);
  const seen = JSON.parse(raw.headers['x-seen'] ?? '{}') as Record<string, string>;
  t.equal(seen['x-kept'], 'yes');
  for (const name of ['x-secret', 'proxy-authorization', 'proxy-connection']) t.notOk(name in seen, name);
  t.equal(seen.te, 'trailers');
  t.not(seen['keep-alive'], '300');
  t.notOk('x-private' in raw.headers, 'Connection-listed response header dropped');
  t.equal(raw.headers.connection, 'close', "the client's own Connection: close is honoured");
  t.equal(answer.text.match(/^Set-Cookie: /gim)?.length, 2, 'duplicate Set-Cookie lines kept');
});

t.test('HEAD keeps Content-Length without a body, and the connection stays usable', async (t) => {
  const a = await startHttpBackend(t, 'A', (req, res) => {
    res.writeHead(200, { 'content-length': '1234', 'x-method': req.method ?? '' });
    res.end(req.method === 'HEAD' ? undefined : 'x'.repeat(1234));
  });
  const edge = await withEdge(
    t,
    httpConfig({ routes: [{ host: 'web.example', target: `[::1]:${a.port}` }] }),
  );
  const answer = await rawExchange(
    edge.port(),
    'HEAD / HTTP/1.1\r\nHost: web.example\r\n\r\nGET / HTTP/1.1\r\nHost: web.example\r\nConnection: close\r\n\r\n',
  );
  const second = answer.text.indexOf('HTTP/1.1', 1);
  const head = parseRawResponse(answer.text.slice(0, second));
  t.match(head, { status: 200, headers: { 'content-length': '1234', 'x-method': 'HEAD' }, body: '' });
  const get = parseRawResponse(answer.text.slice(second));
  t.match(get, { status: 200, headers: { 'x-method': 'GET' } });
  t.equal(get.body.length, 1234);
  t.equal(new Set((await requestLines(edge.logs, 2)).map((l) => l.conn)).size, 1, 'one client connection');
});

t.test('Expect: 100-continue: 100 after the backend is connected; a final status when refused', async (t) => {
  const a = await startHttpBackend(t, 'A');
  const edge = await withEdge(
    t,
    httpConfig({ routes: [{ host: 'web.example', target: `[::1]:${a.port}` }] }),
  );
  const post = (host: string) =>
    new Promise<{ continued: boolean; status: number; body: string }>((resolve, reject) => {
      let continued = false;
      const req = http.request({
        host: '127.0.0.1',
        port: edge.port(),
        method: 'PUT',
        path: '/upload',
        headers: { host, expect: '100-continue', 'content-length': '5' },
      });
      req.on('continue', () => {
        continued = true;
        req.end('hello');
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ continued, status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.flushHeaders();
    });
  const ok = await post('web.example');
  t.equal(ok.continued, true);
  t.match(JSON.parse(ok.body), { method: 'PUT', headers: { 'content-length': '5' } });
  t.notOk('expect' in (JSON.parse(ok.body) as Seen).headers, 'edge46 answers the expectation itself');
  const refused = await post('nowhere.example');
  t.equal(refused.continued, false, 'no 100 for a request that cannot be served');
  t.equal(refused.status, 421);
  t.equal(a.requests.length, 1);
});

t.test('chunked request bodies and response trailers pass through', async (t) => {
  const a = await startHttpBackend(t, 'A', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.writeHead(200, { trailer: 'x-checksum', 'x-req-trailers': JSON.stringify(req.trailers) });
      res.write(body);
      res.addTrailers({ 'x-checksum': String(body.length) });
      res.end();
    });
  });
  const edge = await withEdge(
    t,
    httpConfig({ routes: [{ host: 'web.example', target: `[::1]:${a.port}` }] }),
  );
  const answer = await rawExchange(
    edge.port(),
    'POST / HTTP/1.1\r\nHost: web.example\r\nTransfer-Encoding: chunked\r\nTE: trailers\r\nConnection: close\r\n\r\n' +
      '5\r\nhello\r\n6\r\n world\r\n0\r\nX-Req-Trailer: dropped\r\n\r\n',
  );
  const raw = parseRawResponse(answer.text);
  t.equal(raw.headers['transfer-encoding'], 'chunked');
  t.equal(raw.body, 'hello world', 'the request body arrived intact');
  t.same(raw.trailers, { 'x-checksum': '11' }, 'the response trailer reached the client');
  t.equal(raw.headers['x-req-trailers'], '{}', 'request trailers are not forwarded');
});

t.test('the access log escapes and caps the path', async (t) => {
  const a = await startHttpBackend(t, 'A');
  const edge = await withEdge(
    t,
    httpConfig({ routes: [{ host: 'web.example', target: `[::1]:${a.port}` }] }),
  );
  const long = `/${'a'.repeat(3000)}`;
  await rawExchange(edge.port(), `GET ${long} HTTP/1.1\r\nHost: web.example\r\nConnection: close\r\n\r\n`);
  await rawExchange(edge.port(), `GET /a\\b HTTP/1.1\r\nHost: web.example\r\nConnection: close\r\n\r\n`);
  const [first, second] = await requestLines(edge.logs, 2);
  t.equal((first?.path as string).length, 1025, '1024 characters and an ellipsis');
  t.equal(second?.path, '/a\\x{5c}b');
});

t.test('a client that half-closes after its request still gets the response', async (t) => {
  const a = await startHttpBackend(t, 'A', describeRequest('A'));
  const edge = await withEdge(
    t,
    httpConfig({ routes: [{ host: 'web.example', target: `[::1]:${a.port}` }] }),
  );
  const { connect } = await import('node:net');
  const socket = connect({ host: '127.0.0.1', port: edge.port(), allowHalfOpen: true });
  await once(socket, 'connect');
  socket.end('GET / HTTP/1.1\r\nHost: web.example\r\n\r\n');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await once(socket, 'end');
  socket.destroy();
  t.match(parseRawResponse(Buffer.concat(chunks).toString()), { status: 200 });
});

t.test(
  'the keep-alive race: a GET on a pooled connection the backend dropped is sent again, a POST is not',
  async (t) => {
    // The backend serves one request per connection and drops the connection on the next one (as when
    // its idle timeout fires while edge46 reuses the connection).
    const served = new WeakSet<object>();
    const a = await startHttpBackend(t, 'A', (req, res) => {
      if (served.has(req.socket)) return void req.socket.destroy();
      served.add(req.socket);
      describeRequest('A')(req, res);
    });
    // One connection per pool: which pooled connection a request gets is then certain.
    const edge = await withEdge(
      t,
      httpConfig({
        http: { upstream: { connections: 1 } },
        routes: [{ host: 'web.example', target: `[::1]:${a.port}` }],
      }),
    );
    const get = async (method: string, body?: string) => {
      const res = await request(`http://127.0.0.1:${edge.port()}/`, {
        method: method as 'GET',
        headers: { host: 'web.example' },
        ...(body === undefined ? {} : { body }),
      });
      await res.body.dump();
      return res.statusCode;
    };
    t.equal(await get('GET'), 200);
    t.equal(await get('GET'), 200, 'retried on a new connection');
    t.equal(await get('POST', 'x'), 502, 'a request with a body is not sent twice');
    const lines = await requestLines(edge.logs, 3);
    t.match(lines[1], { status: 200, retried: true, reused: false });
    t.match(lines[2], { status: 502, code: 'EDGE_UPSTREAM_RESET', reused: true });
    t.equal(a.requests.length, 4, 'GET, GET (dropped), GET again, POST (dropped)');
  },
);
