/**
 * 100 MB each way through the http listener, chunked both ways (no Content-Length anywhere), checked by
 * SHA-256 on both ends. Every writer honours backpressure, so this also runs the proxy's pause/resume.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { Writable } from 'node:stream';
import t from 'tap';
import { withEdge } from '../../helpers/edge.js';
import { httpConfig, startHttpBackend } from './backends.js';

const CHUNK = 1 << 20;
const CHUNKS = 100;
const block = randomBytes(CHUNK);

/** Chunk i: the random block with its index in the first bytes (a reordered chunk changes the hash). */
function chunk(i: number): Buffer {
  const out = Buffer.from(block);
  out.writeUInt32BE(i, 0);
  return out;
}

/** Writes the 100 chunks with backpressure; resolves with their SHA-256. */
async function writeAll(stream: Writable): Promise<string> {
  const hash = createHash('sha256');
  for (let i = 0; i < CHUNKS; i++) {
    const data = chunk(i);
    hash.update(data);
    if (!stream.write(data)) await once(stream, 'drain');
  }
  stream.end();
  return hash.digest('hex');
}

async function readAll(stream: NodeJS.ReadableStream): Promise<{ sha: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const data of stream) {
    const buf = data as Buffer;
    bytes += buf.length;
    hash.update(buf);
  }
  return { sha: hash.digest('hex'), bytes };
}

async function text(stream: NodeJS.ReadableStream): Promise<string> {
  let out = '';
  for await (const data of stream) out += (data as Buffer).toString();
  return out;
}

t.test('100 MB chunked upload arrives intact', async (t) => {
  const backend = await startHttpBackend(t, 'up', (req, res) => {
    void readAll(req).then(({ sha, bytes }) => {
      res.end(JSON.stringify({ sha, bytes, te: req.headers['transfer-encoding'] ?? null }));
    });
  });
  const edge = await withEdge(
    t,
    httpConfig({ routes: [{ host: 'up.example', target: `[::1]:${backend.port}` }] }),
  );
  const req = http.request({
    host: '127.0.0.1',
    port: edge.port(),
    method: 'PUT',
    path: '/blob',
    headers: { host: 'up.example' },
  });
  const response = once(req, 'response') as Promise<[http.IncomingMessage]>;
  const sent = await writeAll(req);
  const [res] = await response;
  t.equal(res.statusCode, 200);
  t.same(JSON.parse(await text(res)), { sha: sent, bytes: CHUNK * CHUNKS, te: 'chunked' });
  const log = await edge.logs.waitFor((r) => r.msg === 'request');
  t.match(log, { status: 200, bytesIn: CHUNK * CHUNKS, outcome: 'ok' });
});

t.test('100 MB chunked download arrives intact', async (t) => {
  let sent: Promise<string> | undefined;
  const backend = await startHttpBackend(t, 'down', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    sent = writeAll(res);
  });
  const edge = await withEdge(
    t,
    httpConfig({ routes: [{ host: 'down.example', target: `[::1]:${backend.port}` }] }),
  );
  const req = http.get({
    host: '127.0.0.1',
    port: edge.port(),
    path: '/blob',
    headers: { host: 'down.example' },
  });
  const [res] = (await once(req, 'response')) as [http.IncomingMessage];
  t.equal(res.headers['transfer-encoding'], 'chunked');
  const got = await readAll(res);
  t.equal(got.bytes, CHUNK * CHUNKS);
  t.equal(got.sha, await sent);
  const log = await edge.logs.waitFor((r) => r.msg === 'request');
  t.match(log, { status: 200, bytesOut: CHUNK * CHUNKS, outcome: 'ok' });
});
