/**
 * Terminated connections through the rest of edge46's life: WebSocket upgrades over TLS (piped in JS,
 * never spliced as ciphertext), config reloads that add terminate routes or are refused for a missing
 * certificate, and a graceful close that sends HTTP/2 GOAWAY and closes idle HTTP/1.1 connections.
 */
import t from 'tap';
import { once } from 'node:events';
import type { LookupFunction } from 'node:net';
import tls from 'node:tls';
import { Agent, WebSocket } from 'undici';
import { validateConfig } from '../../../src/config/load.js';
import type { ConfigInput } from '../../../src/config/schema.js';
import { startHttpBackend } from '../http/backends.js';
import { startWsEchoServer } from '../http/ws-echo.js';
import { h2Request, h2Session, httpsGet, startEdge, terminateConfig, tlsFixtures as f } from './rig.js';

const toEdge: LookupFunction = (_hostname, opts, callback) => {
  if (opts.all === true) callback(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
};

t.test('WebSocket over a terminate route (wss → ws backend)', async (t) => {
  const backend = await startWsEchoServer(t);
  const edge = await startEdge(t, {
    tls: { certificates: [f.files('exact')] },
    routes: [{ host: 'a.example.com', target: '[::1]', port: backend.port, tls: 'terminate' }],
  });
  const dispatcher = new Agent({ connect: { lookup: toEdge, ca: f.ca } });
  t.teardown(() => dispatcher.close());
  const ws = new WebSocket(`wss://a.example.com:${edge.port()}/chat`, { dispatcher });
  ws.binaryType = 'arraybuffer';
  const messages: Buffer[] = [];
  let wake: (() => void) | null = null;
  ws.addEventListener('message', (event) => {
    const data = event.data as string | ArrayBuffer;
    messages.push(typeof data === 'string' ? Buffer.from(data) : Buffer.from(data));
    wake?.();
  });
  const next = async (): Promise<Buffer> => {
    for (let i = 0; i < 100 && messages.length === 0; i++)
      await new Promise<void>((resolve) => (wake = resolve));
    const m = messages.shift();
    if (m === undefined) throw new Error('no message');
    return m;
  };
  await once(ws, 'open');
  const big = Buffer.alloc(1 << 20, 3);
  big.writeUInt32BE(0xdeadbeef, 4096);
  ws.send(big);
  t.same(await next(), big, '1 MiB echoed intact through TLS termination and the pipe');
  ws.close(1000, 'bye');
  await once(ws, 'close');
  t.match(backend.upgrades[0], { 'x-forwarded-proto': 'https', upgrade: 'websocket' });
  t.match(await edge.logs.waitFor((r) => r.msg === 'request'), { status: 101, outcome: 'ok' });
});

t.test('a reload adds a terminate route (self-signed stand-in), a refused one changes nothing', async (t) => {
  const backend = await startHttpBackend(t, 'a');
  const base: Partial<ConfigInput> = {
    tls: { certificates: [f.files('exact')] },
    routes: [{ host: 'a.example.com', target: '[::1]', port: backend.port, tls: 'terminate' }],
  };
  const edge = await startEdge(t, base);
  const port = edge.port();
  // The same listener (address "127.0.0.1:0" as at start): a reload keeps it and its port.
  const config = (input: Partial<ConfigInput>) => {
    const r = validateConfig(terminateConfig(input));
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    return r.config;
  };
  const added = config({
    ...base,
    routes: [
      ...(base.routes ?? []),
      { host: 'new.example.org', target: '[::1]', port: backend.port, tls: 'terminate' },
    ],
  });
  await edge.app.reload(added);
  const served = await new Promise<tls.PeerCertificate>((resolve, reject) => {
    const s = tls.connect({
      host: '127.0.0.1',
      port,
      servername: 'new.example.org',
      rejectUnauthorized: false,
    });
    s.once('secureConnect', () => {
      resolve(s.getPeerCertificate());
      s.end();
    });
    s.once('error', reject);
  });
  t.equal(served.subject.CN, 'new.example.org', 'the new route has its stand-in');

  const refused = config({
    ...base,
    tls: { ...base.tls, requireCertificates: true },
    routes: [
      ...(base.routes ?? []),
      { host: 'other.example.org', target: '[::1]', port: backend.port, tls: 'terminate' },
    ],
  });
  await t.rejects(edge.app.reload(refused), { name: 'MissingCertificateError' });
  t.equal((await httpsGet(port, 'a.example.com', '/')).status, 200, 'still serving');
});

t.test('close: HTTP/2 sessions get GOAWAY, idle HTTP/1.1 connections close, close resolves', async (t) => {
  const backend = await startHttpBackend(t, 'a');
  const edge = await startEdge(t, {
    tls: { certificates: [f.files('exact')] },
    routes: [{ host: 'a.example.com', target: '[::1]', port: backend.port, tls: 'terminate' }],
  });
  const port = edge.port();
  const session = await h2Session(t, port, 'a.example.com');
  t.equal((await h2Request(session, { ':path': '/' })).status, 200);
  const goaway = once(session, 'goaway');
  const h1 = tls.connect({
    host: '127.0.0.1',
    port,
    servername: 'a.example.com',
    ca: f.ca,
    ALPNProtocols: ['http/1.1'],
  });
  await once(h1, 'secureConnect');
  h1.write('GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n');
  await once(h1, 'data');
  const h1Closed = once(h1, 'close');
  h1.on('error', () => {});
  await edge.app.close({ graceMs: 60_000 });
  await goaway;
  await h1Closed;
  t.equal(edge.app.connections, 0);
});
