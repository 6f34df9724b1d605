/**
 * Request smuggling and framing attacks, written byte for byte on a raw socket: each must get 400 (with
 * the connection closed) and nothing may reach the backend — not even the part before the bad bytes.
 * llhttp (node's strict parser, insecureHTTPParser off) does the detecting; this table pins it down.
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import t from 'tap';
import { withEdge } from '../../helpers/edge.js';
import { httpConfig, parseRawResponse, rawExchange, startHttpBackend } from './backends.js';

const H = 'Host: web.example\r\n';

/** [name, the bytes, the code edge46 logs]. */
const CASES: [string, string, string][] = [
  [
    'CL then TE',
    `POST / HTTP/1.1\r\n${H}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG`,
    'EDGE_BAD_REQUEST',
  ],
  [
    'TE then CL',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\nG`,
    'EDGE_BAD_REQUEST',
  ],
  [
    'two different Content-Lengths',
    `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`,
    'EDGE_BAD_REQUEST',
  ],
  ['Content-Length list', `POST / HTTP/1.1\r\n${H}Content-Length: 5, 6\r\n\r\nhello!`, 'EDGE_BAD_REQUEST'],
  ['signed Content-Length', `POST / HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\nhello`, 'EDGE_BAD_REQUEST'],
  ['hex Content-Length', `POST / HTTP/1.1\r\n${H}Content-Length: 0x5\r\n\r\nhello`, 'EDGE_BAD_REQUEST'],
  [
    'TE not ending in chunked',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    'EDGE_BAD_REQUEST',
  ],
  ['TE identity', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\n\r\nhello`, 'EDGE_BAD_REQUEST'],
  [
    'TE xchunked',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    'EDGE_BAD_REQUEST',
  ],
  [
    'space before colon',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    'EDGE_BAD_REQUEST',
  ],
  ['obs-fold in a header', `GET / HTTP/1.1\r\n${H}X-Folded: a\r\n b\r\n\r\n`, 'EDGE_BAD_REQUEST'],
  [
    'obs-fold hiding chunked',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding:\r\n chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    'EDGE_BAD_REQUEST',
  ],
  ['folded first header line', `GET / HTTP/1.1\r\n ${H}\r\n`, 'EDGE_BAD_REQUEST'],
  [
    'non-hex chunk size',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nZZ\r\nhello\r\n0\r\n\r\n`,
    'EDGE_BAD_REQUEST',
  ],
  [
    'negative chunk size',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n`,
    'EDGE_BAD_REQUEST',
  ],
  [
    'overflowing chunk size',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1FFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n`,
    'EDGE_BAD_REQUEST',
  ],
  [
    'chunk longer than its size',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n`,
    'EDGE_BAD_REQUEST',
  ],
  [
    'bare LF in chunked framing',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n`,
    'EDGE_BAD_REQUEST',
  ],
  [
    'bare CR in a header value',
    `GET / HTTP/1.1\r\n${H}X-Evil: a\rContent-Length: 5\r\n\r\n`,
    'EDGE_BAD_REQUEST',
  ],
  ['NUL in a header value', `GET / HTTP/1.1\r\n${H}X-Evil: a\0b\r\n\r\n`, 'EDGE_BAD_REQUEST'],
  ['header name with a space', `GET / HTTP/1.1\r\n${H}X Evil: 1\r\n\r\n`, 'EDGE_BAD_REQUEST'],
  ['non-ASCII in the target', `GET /caf\u00e9 HTTP/1.1\r\n${H}\r\n`, 'EDGE_BAD_REQUEST'],
  ['unknown HTTP version', `GET / HTTP/3.7\r\n${H}\r\n`, 'EDGE_BAD_REQUEST'],
  ['HTTP/0.9 style request', 'GET /\r\n\r\n', 'EDGE_NO_HOST'],
  ['smuggled second Host', `GET / HTTP/1.1\r\n${H}Host: evil.example\r\n\r\n`, 'EDGE_BAD_HOST'],
];

t.test('known-bad request heads get 400, a closed connection, and never reach the backend', async (t) => {
  const backend = await startHttpBackend(t, 'A');
  const edge = await withEdge(
    t,
    httpConfig({ routes: [{ host: 'web.example', target: `[::1]:${backend.port}` }] }),
  );
  let expected = 0;
  for (const [name, bytes, code] of CASES) {
    const answer = await rawExchange(edge.port(), Buffer.from(bytes, 'latin1'));
    const raw = parseRawResponse(answer.text);
    t.equal(raw.status, 400, `${name}: 400`);
    t.match(raw.body, code, `${name}: ${code}`);
    t.equal(answer.text.match(/HTTP\/1\.1 /g)?.length, 1, `${name}: exactly one response`);
    expected++;
    let seen = 0;
    const log = await edge.logs.waitFor(
      (r) => r.msg === 'request' && r.status === 400 && ++seen === expected,
    );
    t.equal(log.code, code, `${name}: logged`);
    t.equal(backend.connections(), 0, `${name}: no backend connection`);
  }
  t.equal(backend.requests.length, 0, 'the backend never saw a request');
  t.equal(backend.connections(), 0, 'not even a connection was opened to it');
});

t.test(
  'a well-formed request on the same listener still works (the table is not a false alarm)',
  async (t) => {
    const backend = await startHttpBackend(t, 'A');
    const edge = await withEdge(
      t,
      httpConfig({ routes: [{ host: 'web.example', target: `[::1]:${backend.port}` }] }),
    );
    const answer = await rawExchange(
      edge.port(),
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    );
    t.equal(parseRawResponse(answer.text).status, 200);
    t.equal(backend.requests.length, 1);
  },
);

t.test(
  'bad chunk framing after the head went upstream: 400, and the backend never sees a complete request',
  async (t) => {
    let arrived: (() => void) | null = null;
    const headArrived = new Promise<void>((resolve) => (arrived = resolve));
    let finished: ((how: string) => void) | null = null;
    const outcome = new Promise<string>((resolve) => (finished = resolve));
    const backend = await startHttpBackend(t, 'A', (req) => {
      arrived?.();
      req.on('data', () => {});
      req.on('end', () => finished?.('complete'));
      req.on('error', () => finished?.('aborted'));
      req.on('close', () => finished?.(req.complete ? 'complete' : 'aborted'));
    });
    const edge = await withEdge(
      t,
      httpConfig({ routes: [{ host: 'web.example', target: `[::1]:${backend.port}` }] }),
    );
    const socket = connect({ host: '127.0.0.1', port: edge.port() });
    socket.on('error', () => {});
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.write(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`);
    await headArrived;
    socket.write('ZZ\r\nsmuggled\r\n0\r\n\r\n');
    await once(socket, 'close');
    t.equal(await outcome, 'aborted', "the backend's request was cut off");
    t.match(parseRawResponse(Buffer.concat(chunks).toString('latin1')), {
      status: 400,
      body: /EDGE_BAD_REQUEST/,
    });
    t.equal(backend.requests.length, 1);
  },
);
