import t from 'tap';
import { describeOutcome, ProxyError } from '../../../src/errors.js';
import { errorBody, rawErrorResponse } from '../../../src/http/error-response.js';
import { upstreamError, type UpstreamErrorContext } from '../../../src/http/upstream-error.js';

const ctx: UpstreamErrorContext = {
  upstream: '[2001:db8::1]:80',
  responding: false,
  clientAborted: false,
  headersTimeoutMs: 100,
  bodyTimeoutMs: 200,
};

function coded(code: string, message = code): Error {
  return Object.assign(new Error(message), { code });
}

t.test('undici errors map to edge46 codes (the status comes from describeOutcome)', async (t) => {
  const cases: [Error, string, number][] = [
    [coded('UND_ERR_HEADERS_TIMEOUT'), 'EDGE_UPSTREAM_TIMEOUT', 504],
    [coded('UND_ERR_BODY_TIMEOUT'), 'EDGE_UPSTREAM_BODY_TIMEOUT', 504],
    [coded('UND_ERR_SOCKET', 'other side closed'), 'EDGE_UPSTREAM_RESET', 502],
    [coded('ECONNRESET'), 'EDGE_UPSTREAM_RESET', 502],
    [coded('HPE_INVALID_CONSTANT'), 'EDGE_UPSTREAM_BAD_RESPONSE', 502],
    [coded('UND_ERR_RES_CONTENT_LENGTH_MISMATCH'), 'EDGE_UPSTREAM_BAD_RESPONSE', 502],
    [coded('UND_ERR_REQ_CONTENT_LENGTH_MISMATCH'), 'EDGE_CLIENT_CLOSED', 499],
    [coded('UND_ERR_INVALID_ARG'), 'EDGE_BAD_REQUEST', 400],
    [new Error('surprise'), 'EDGE_INTERNAL', 500],
  ];
  for (const [err, code, status] of cases) {
    const mapped = upstreamError(err, ctx);
    t.equal(mapped.code, code, `${String((err as { code?: string }).code)} → ${code}`);
    t.equal(mapped.cause, err, 'original kept as cause');
    t.equal(describeOutcome(mapped).httpStatus, status);
  }
  t.match(upstreamError(coded('UND_ERR_HEADERS_TIMEOUT'), ctx).message, '[2001:db8::1]:80 within 100 ms');
  t.match(upstreamError(coded('UND_ERR_SOCKET'), { ...ctx, responding: true }).message, 'mid-response');
});

t.test('ProxyErrors pass through; a client that went away is the client', async (t) => {
  const own = new ProxyError('EDGE_CONNECT_REFUSED', 'refused');
  t.equal(upstreamError(own, ctx), own);
  t.equal(upstreamError(coded('ECONNRESET'), { ...ctx, clientAborted: true }).code, 'EDGE_CLIENT_CLOSED');
});

t.test("error bodies name the code; details only for the client's own mistakes", async (t) => {
  const backend = describeOutcome(
    new ProxyError('EDGE_CONNECT_REFUSED', 'connection refused: [2001:db8::1]:80'),
  );
  t.equal(errorBody(backend), '502 Bad Gateway\nEDGE_CONNECT_REFUSED\n');
  const client = describeOutcome(new ProxyError('EDGE_NO_ROUTE', 'no route for a\u0001.example'));
  t.equal(errorBody(client), '421 Misdirected Request\nEDGE_NO_ROUTE: no route for a\\x{1}.example\n');
  const raw = rawErrorResponse(describeOutcome(new ProxyError('EDGE_OVER_CAPACITY', 'full'))).toString(
    'latin1',
  );
  t.match(raw, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
  t.match(raw, /\r\nContent-Type: text\/plain; charset=utf-8\r\n/);
  t.match(raw, /\r\nConnection: close\r\n\r\n503 Service Unavailable\nEDGE_OVER_CAPACITY\n$/);
  t.match(raw, `Content-Length: ${'503 Service Unavailable\nEDGE_OVER_CAPACITY\n'.length}\r\n`);
});
