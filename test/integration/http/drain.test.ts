/**
 * Graceful shutdown of an http listener (STYLE.md §9): idle keep-alive connections close at once, a
 * request in flight is answered (with Connection: close) and its connection then closes, and close()
 * resolves once nothing is left. Backend pools are closed last.
 */
import { once } from 'node:events';
import t from 'tap';
import { withEdge } from '../../helpers/edge.js';
import { httpConfig, openSocket, parseRawResponse, startHttpBackend } from './backends.js';

t.test(
  'close(): idle connections close, the request in flight completes with Connection: close',
  async (t) => {
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    let arrived: () => void = () => {};
    const slowArrived = new Promise<void>((resolve) => (arrived = resolve));
    const backend = await startHttpBackend(t, 'A', (req, res) => {
      if (req.url !== '/slow') return void res.end('fast');
      arrived();
      void released.then(() => res.end('slow done'));
    });
    const edge = await withEdge(
      t,
      httpConfig({ routes: [{ host: 'web.example', target: `[::1]:${backend.port}` }] }),
    );

    const idle = await openSocket(t, edge.port());
    idle.write('GET /fast HTTP/1.1\r\nHost: web.example\r\n\r\n');
    await once(idle, 'data');
    const idleClosed = once(idle, 'close');

    const busy = await openSocket(t, edge.port());
    const chunks: Buffer[] = [];
    busy.on('data', (c: Buffer) => chunks.push(c));
    const busyClosed = once(busy, 'close');
    busy.write('GET /slow HTTP/1.1\r\nHost: web.example\r\n\r\n');
    await slowArrived;

    const closing = edge.app.close({ graceMs: 10_000 });
    await idleClosed;
    t.pass('the idle keep-alive connection was closed');
    release();
    await busyClosed;
    t.match(parseRawResponse(Buffer.concat(chunks).toString()), {
      status: 200,
      headers: { connection: 'close' },
      body: 'slow done',
    });
    await closing;
    await edge.logs.waitFor((r) => r.msg === 'edge46 stopped');
    t.equal(edge.app.connections, 0);
  },
);
