// Regression: a request whose head was fine but whose first chunk size was bad, arriving in the same
// segment, got as far as opening a backend connection before the 400. node's consumed parser calls back
// per parser event with a microtask checkpoint after each, so an `await` after the head was not enough
// to see the error behind it; the exchange now waits for the parser to finish the bytes already read.
// Also: a 400 from routing (two Host headers) left the connection open until the keep-alive timeout.
import t from 'tap';
import { withEdge } from '../helpers/edge.js';
import { httpConfig, parseRawResponse, rawExchange, startHttpBackend } from '../integration/http/backends.js';

t.test('bad chunk size behind a good head: 400 and no backend connection at all', async (t) => {
  const backend = await startHttpBackend(t, 'A');
  const edge = await withEdge(
    t,
    httpConfig({ routes: [{ host: 'web.example', target: `[::1]:${backend.port}` }] }),
  );
  const answer = await rawExchange(
    edge.port(),
    'POST / HTTP/1.1\r\nHost: web.example\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n',
  );
  t.equal(parseRawResponse(answer.text).status, 400);
  t.equal(backend.connections(), 0);
});

t.test('a 400 closes the connection (no wait for the keep-alive timeout)', async (t) => {
  const edge = await withEdge(
    t,
    httpConfig({
      http: { keepAliveTimeoutMs: 60_000 },
      routes: [{ host: 'web.example', target: '[::1]:9' }],
    }),
  );
  // rawExchange resolves on close only; with the bug this waited 60 s (the test's own bound is 10 s).
  const answer = await rawExchange(
    edge.port(),
    'GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n',
  );
  t.match(parseRawResponse(answer.text), { status: 400, headers: { connection: 'close' } });
  t.equal(answer.ended, true);
});
