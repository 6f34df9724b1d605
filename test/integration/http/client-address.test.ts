// The client's address over the HTTP path on loopback: an http listener (or one of its routes) with
// proxyProtocol v1/v2 sends each client connection's requests over a backend connection of its own,
// which starts with one PROXY header describing that client (TCP4 127.0.0.1, never ::ffff:). The
// backend is a raw TCP server on [::1] that parses the header with edge46's own parser, then serves
// HTTP/1.1 on the rest of the stream. NAT46 sources need addresses loopback lacks: the e2e test.
import { once } from 'node:events';
import http from 'node:http';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import { Client } from 'undici';
import {
  parseProxyHeader,
  PP2_TYPE_ALPN,
  PP2_TYPE_AUTHORITY,
  type ProxyHeader,
} from '../../../src/sniff/proxy-protocol.js';
import { withEdge } from '../../helpers/edge.js';
import { httpConfig } from './backends.js';

interface BackendConnection {
  readonly index: number;
  readonly header: ProxyHeader | null;
  readonly closed: Promise<void>;
  requests: number;
}

interface Answer {
  conn: number;
  request: number;
  source: string;
  sourcePort: number;
  family: string;
  version: number;
  authority: string;
  alpn: string;
  path: string;
  xff: string;
}

/** HTTP on [::1] behind an optional PROXY header (`expect`: whether one must come first). */
async function startBackend(t: Test, expect: boolean): Promise<{ port: number; conns: BackendConnection[] }> {
  const conns: BackendConnection[] = [];
  const server = http.createServer((req, res) => {
    const conn = (req.socket as Socket & { edgeConn?: BackendConnection }).edgeConn;
    if (conn === undefined) return void res.destroy();
    conn.requests++;
    const h = conn.header;
    const answer: Answer = {
      conn: conn.index,
      request: conn.requests,
      source: h?.source?.address ?? '-',
      sourcePort: h?.source?.port ?? 0,
      family: h?.family ?? '-',
      version: h?.version ?? 0,
      authority: h?.tlvs.get(PP2_TYPE_AUTHORITY)?.toString() ?? '-',
      alpn: h?.tlvs.get(PP2_TYPE_ALPN)?.toString() ?? '-',
      path: req.url ?? '',
      xff: req.headers['x-forwarded-for']?.toString() ?? '-',
    };
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(answer));
  });
  const raw = createServer((socket) => {
    socket.on('error', () => {});
    const closed = once(socket, 'close').then(() => undefined);
    const start = (header: ProxyHeader | null, rest: Buffer): void => {
      const conn: BackendConnection = { index: conns.length, header, closed, requests: 0 };
      conns.push(conn);
      (socket as Socket & { edgeConn?: BackendConnection }).edgeConn = conn;
      if (rest.length > 0) socket.unshift(rest);
      server.emit('connection', socket);
      socket.resume();
    };
    if (!expect) return start(null, Buffer.alloc(0));
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const r = parseProxyHeader(buffered);
      if (r.kind === 'need-more') return;
      socket.off('data', onData);
      socket.pause();
      if (r.kind === 'invalid') return void socket.end(`HTTP/1.1 400 Bad PROXY\r\nconnection: close\r\n\r\n`);
      start(r.value, buffered.subarray(r.value.headerLength));
    };
    socket.on('data', onData);
  });
  raw.listen(0, '::1');
  await once(raw, 'listening');
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => raw.close(() => resolve()));
  });
  return { port: (raw.address() as AddressInfo).port, conns };
}

async function get(client: Client, host: string, path: string): Promise<Answer> {
  const res = await client.request({ path, method: 'GET', headers: { host } });
  if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}: ${await res.body.text()}`);
  return (await res.body.json()) as Answer;
}

t.test(
  'proxyProtocol v1 on the listener: one backend connection per client connection, one header each',
  async (t) => {
    const backend = await startBackend(t, true);
    const edge = await withEdge(
      t,
      httpConfig({
        listeners: [{ name: 'web', address: '127.0.0.1:0', protocol: 'http', proxyProtocol: 'v1' }],
        routes: [{ host: 'web.example', target: `[::1]:${backend.port}` }],
      }),
    );
    const one = new Client(`http://127.0.0.1:${edge.port()}`);
    const two = new Client(`http://127.0.0.1:${edge.port()}`);
    t.teardown(() => Promise.all([one.destroy(), two.destroy()]));
    const a1 = await get(one, 'web.example', '/a1');
    const a2 = await get(one, 'web.example:8080', '/a2');
    t.match(a1, { conn: 0, request: 1, source: '127.0.0.1', family: 'tcp4', version: 1, path: '/a1' });
    t.match(a2, { conn: 0, request: 2, source: '127.0.0.1', family: 'tcp4', version: 1, path: '/a2' });
    t.equal(a2.sourcePort, a1.sourcePort, 'both requests describe the same client connection');
    t.equal(a1.xff, '127.0.0.1', 'forwarding headers are still set');
    const b1 = await get(two, 'web.example', '/b1');
    t.match(b1, { conn: 1, request: 1, source: '127.0.0.1', family: 'tcp4', version: 1 });
    t.not(b1.sourcePort, a1.sourcePort, 'the second client connection has its own header');
    t.equal(backend.conns.length, 2, 'two client connections, two backend connections');

    // The client connection closing closes its backend connection.
    await one.close();
    await backend.conns[0]?.closed;
    t.pass('backend connection of the closed client connection closed');
  },
);

t.test('proxyProtocol v2 on one route: TCP4 with the Host as authority and ALPN http/1.1', async (t) => {
  const proxied = await startBackend(t, true);
  const plain = await startBackend(t, false);
  const edge = await withEdge(
    t,
    httpConfig({
      listeners: [{ name: 'web', address: '127.0.0.1:0', protocol: 'http' }],
      routes: [
        { host: 'pp.example', target: `[::1]:${proxied.port}`, proxyProtocol: 'v2' },
        { host: 'plain.example', target: `[::1]:${plain.port}` },
      ],
    }),
  );
  const one = new Client(`http://127.0.0.1:${edge.port()}`);
  const two = new Client(`http://127.0.0.1:${edge.port()}`);
  t.teardown(() => Promise.all([one.destroy(), two.destroy()]));
  const a1 = await get(one, 'pp.example', '/1');
  const p1 = await get(one, 'plain.example', '/2');
  const a2 = await get(one, 'PP.example.', '/3');
  t.match(a1, { conn: 0, request: 1, source: '127.0.0.1', family: 'tcp4', version: 2 });
  t.match(a1, { authority: 'pp.example', alpn: 'http/1.1' });
  t.match(a2, { conn: 0, request: 2, sourcePort: a1.sourcePort }, 'same client connection, same backend one');
  t.match(p1, { version: 0, source: '-' }, 'a route without proxyProtocol sends no header');
  const b1 = await get(two, 'pp.example', '/4');
  const p2 = await get(two, 'plain.example', '/5');
  t.match(b1, { conn: 1, request: 1, version: 2, authority: 'pp.example' });
  t.not(b1.sourcePort, a1.sourcePort);
  t.equal(proxied.conns.length, 2, 'one backend connection per client connection');
  t.match(p2, { conn: 0, request: 2 }, 'the plain route pools across client connections');
  t.equal(plain.conns.length, 1);
  await edge.logs.waitFor((r) => r.msg === 'request' && r.path === '/5');
  const logged = edge.logs.records.filter((r) => r.msg === 'request');
  t.match(
    logged.find((r) => r.path === '/1'),
    { proxyProtocol: 'v2', reused: false, outcome: 'ok' },
  );
  t.match(
    logged.find((r) => r.path === '/3'),
    { proxyProtocol: 'v2', reused: true },
  );
  t.equal(logged.find((r) => r.path === '/2')?.proxyProtocol, undefined, 'pooled requests log none');
});

t.test('an upgrade sends the PROXY header before the upgrade request', async (t) => {
  const backend = await startBackend(t, true);
  const edge = await withEdge(
    t,
    httpConfig({
      listeners: [{ name: 'web', address: '127.0.0.1:0', protocol: 'http', proxyProtocol: 'v2' }],
      routes: [{ host: 'ws.example', target: `[::1]:${backend.port}` }],
    }),
  );
  // The backend answers the upgrade request like any request (200 + JSON): relayed with Connection: close.
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port: edge.port(),
      path: '/ws',
      headers: { host: 'ws.example', connection: 'upgrade', upgrade: 'websocket' },
    });
    req.on('response', resolve);
    req.on('error', reject);
    req.end();
  });
  let body = '';
  res.setEncoding('utf8');
  for await (const chunk of res) body += chunk as string;
  t.equal(res.statusCode, 200);
  t.match(JSON.parse(body) as Answer, {
    version: 2,
    source: '127.0.0.1',
    family: 'tcp4',
    authority: 'ws.example',
  });
});
