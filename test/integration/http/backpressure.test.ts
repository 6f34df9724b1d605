/**
 * Bodies are streamed, never buffered whole: with a slow reader on one side, the fast writer on the
 * other side is held back by edge46. Measured as the largest gap between bytes the writer got rid of
 * and bytes the reader took. With backpressure the gap is bounded by socket buffers along the path
 * (kernel and node, two hops: well under 32 MB on loopback); an edge that buffered the body would let
 * the writer run ahead by most of the 64 MB.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import t from 'tap';
import { withEdge } from '../../helpers/edge.js';
import { httpConfig, startHttpBackend } from './backends.js';

const CHUNK = 64 * 1024;
const TOTAL = 64 * 1024 * 1024;
const BOUND = 32 * 1024 * 1024;
const chunk = Buffer.alloc(CHUNK, 0x61);

/** Writes TOTAL bytes honouring backpressure; `written` counts what the stream accepted. */
async function writeTotal(stream: Writable, onWritten: (bytes: number) => void): Promise<void> {
  for (let sent = 0; sent < TOTAL; sent += CHUNK) {
    const ok = stream.write(chunk);
    onWritten(sent + CHUNK);
    if (!ok) await once(stream, 'drain');
  }
  stream.end();
}

/** Reads slowly (a 1 ms pause per chunk: a throttle, not a synchronisation) and reports progress. */
async function readSlowly(stream: NodeJS.ReadableStream, onRead: (bytes: number) => void): Promise<number> {
  let read = 0;
  for await (const data of stream) {
    read += (data as Buffer).length;
    onRead(read);
    await delay(1);
  }
  return read;
}

t.test('a slow client holds back a fast backend (response body)', async (t) => {
  let written = 0;
  let read = 0;
  let gap = 0;
  const backend = await startHttpBackend(t, 'fast', (_req, res) => {
    res.writeHead(200);
    void writeTotal(res, (bytes) => {
      written = bytes;
      gap = Math.max(gap, written - read);
    });
  });
  const edge = await withEdge(
    t,
    httpConfig({ routes: [{ host: 'web.example', target: `[::1]:${backend.port}` }] }),
  );
  const req = http.get({ host: '127.0.0.1', port: edge.port(), headers: { host: 'web.example' } });
  const [res] = (await once(req, 'response')) as [http.IncomingMessage];
  const total = await readSlowly(res, (bytes) => (read = bytes));
  t.equal(total, TOTAL);
  t.ok(gap < BOUND, `the backend ran at most ${(gap / 2 ** 20).toFixed(1)} MB ahead of the client`);
});

t.test('a slow backend holds back a fast client (request body)', async (t) => {
  let written = 0;
  let read = 0;
  let gap = 0;
  const backend = await startHttpBackend(t, 'slow', (req, res) => {
    void readSlowly(req, (bytes) => (read = bytes)).then((total) => res.end(String(total)));
  });
  const edge = await withEdge(
    t,
    httpConfig({ routes: [{ host: 'web.example', target: `[::1]:${backend.port}` }] }),
  );
  const req = http.request({
    host: '127.0.0.1',
    port: edge.port(),
    method: 'POST',
    headers: { host: 'web.example', 'content-length': String(TOTAL) },
  });
  const response = once(req, 'response') as Promise<[http.IncomingMessage]>;
  await writeTotal(req, (bytes) => {
    written = bytes;
    gap = Math.max(gap, written - read);
  });
  const [res] = await response;
  let body = '';
  for await (const data of res) body += (data as Buffer).toString();
  t.equal(body, String(TOTAL));
  t.ok(gap < BOUND, `the client ran at most ${(gap / 2 ** 20).toFixed(1)} MB ahead of the backend`);
});
