/**
 * Upgrades through the http listener: undici's WebSocket client → edge46 → a minimal RFC 6455 echo
 * server on [::1]. After the backend's 101 both sockets belong to the pipe engine; a refused upgrade
 * is relayed as an ordinary response.
 */
import { once } from 'node:events';
import type { LookupFunction } from 'node:net';
import t from 'tap';
import { Agent, WebSocket } from 'undici';
import { withEdge } from '../../helpers/edge.js';
import { httpConfig, parseRawResponse, rawExchange } from './backends.js';
import { startWsEchoServer } from './ws-echo.js';

/** Every name resolves to 127.0.0.1, where edge46 listens: the client keeps its own Host header. */
const toEdge: LookupFunction = (_hostname, opts, callback) => {
  if (opts.all === true) callback(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
};

t.test('WebSocket echo through the proxy', async (t) => {
  const backend = await startWsEchoServer(t);
  const edge = await withEdge(
    t,
    httpConfig({ routes: [{ host: 'ws.example', target: `[::1]:${backend.port}` }] }),
  );
  const dispatcher = new Agent({ connect: { lookup: toEdge } });
  t.teardown(() => dispatcher.close());
  const ws = new WebSocket(`ws://ws.example:${edge.port()}/chat`, { dispatcher });
  ws.binaryType = 'arraybuffer';
  const messages: (string | Buffer)[] = [];
  let wake: (() => void) | null = null;
  ws.addEventListener('message', (event) => {
    const data = event.data as string | ArrayBuffer;
    messages.push(typeof data === 'string' ? data : Buffer.from(data));
    wake?.();
  });
  const next = async (): Promise<string | Buffer> => {
    while (messages.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    return messages.shift() as string | Buffer;
  };
  await once(ws, 'open');
  ws.send('hello');
  t.equal(await next(), 'hello');
  const big = Buffer.alloc(1 << 20, 7);
  big.writeUInt32BE(0xdeadbeef, 1000);
  ws.send(big);
  t.same(await next(), big, '1 MiB binary message (64-bit length) echoed intact');
  ws.close(1000, 'bye');
  await once(ws, 'close');
  t.match(backend.upgrades[0], {
    host: `ws.example:${edge.port()}`,
    upgrade: 'websocket',
    connection: 'upgrade',
    'x-forwarded-for': '127.0.0.1',
  });
  const log = await edge.logs.waitFor((r) => r.msg === 'request');
  t.match(log, {
    status: 101,
    upgrade: 'websocket',
    path: '/chat',
    upstream: `[::1]:${backend.port}`,
    outcome: 'ok',
    durations: { connect: Number, ttfb: Number, total: Number },
  });
  t.ok((log.bytesIn as number) > 1 << 20 && (log.bytesOut as number) > 1 << 20, 'pipe bytes counted');
});

t.test('a refused upgrade is relayed as an ordinary response, then the connection closes', async (t) => {
  const backend = await startWsEchoServer(t, { refuse: 403 });
  const edge = await withEdge(
    t,
    httpConfig({ routes: [{ host: 'ws.example', target: `[::1]:${backend.port}` }] }),
  );
  const answer = await rawExchange(
    edge.port(),
    'GET /chat HTTP/1.1\r\nHost: ws.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
      'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  );
  t.match(parseRawResponse(answer.text), {
    status: 403,
    headers: { connection: 'close' },
    body: 'no upgrade for you\n',
  });
  t.equal(answer.ended, true);
  t.match(await edge.logs.waitFor((r) => r.msg === 'request'), {
    status: 403,
    upgrade: 'websocket',
    outcome: 'ok',
  });
});

t.test('an upgrade to an unknown host gets 421 without reaching a backend', async (t) => {
  const backend = await startWsEchoServer(t);
  const edge = await withEdge(
    t,
    httpConfig({ routes: [{ host: 'ws.example', target: `[::1]:${backend.port}` }] }),
  );
  const answer = await rawExchange(
    edge.port(),
    'GET / HTTP/1.1\r\nHost: other.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
  );
  t.match(parseRawResponse(answer.text), { status: 421, body: /EDGE_NO_ROUTE/ });
  t.equal(backend.upgrades.length, 0);
});
