/**
 * Normalises what undici reports about a backend exchange into ProxyErrors (STYLE.md §3: normalise at
 * the boundary, keep the original as `cause`, name the backend in the message).
 */
import { errnoCode, errorMessage, ProxyError } from '../errors.js';

export interface UpstreamErrorContext {
  /** "[addr]:port" when a connection was made, else the target. */
  readonly upstream: string;
  /** The response head was already sent to the client. */
  readonly responding: boolean;
  /** The client's request ended early (its connection closed mid-body). */
  readonly clientAborted: boolean;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
}

const RESET = new Set([
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_INFO',
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'ETIMEDOUT',
]);

export function upstreamError(err: unknown, ctx: UpstreamErrorContext): ProxyError {
  if (err instanceof ProxyError) return err;
  if (ctx.clientAborted) {
    return new ProxyError(
      'EDGE_CLIENT_CLOSED',
      'client closed the connection before its request was sent',
      err,
    );
  }
  const code = errnoCode(err) ?? '';
  const where = ctx.responding ? 'mid-response' : 'before the response head';
  if (code === 'UND_ERR_HEADERS_TIMEOUT') {
    return new ProxyError(
      'EDGE_UPSTREAM_TIMEOUT',
      `no response head from ${ctx.upstream} within ${ctx.headersTimeoutMs} ms`,
      err,
    );
  }
  if (code === 'UND_ERR_BODY_TIMEOUT') {
    return new ProxyError(
      'EDGE_UPSTREAM_BODY_TIMEOUT',
      `response body from ${ctx.upstream} silent for ${ctx.bodyTimeoutMs} ms`,
      err,
    );
  }
  if (RESET.has(code)) {
    return new ProxyError(
      'EDGE_UPSTREAM_RESET',
      `${ctx.upstream} closed the connection ${where} (${code})`,
      err,
    );
  }
  if (code === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH') {
    return new ProxyError('EDGE_CLIENT_CLOSED', 'request body shorter than its Content-Length', err);
  }
  const parserError = err instanceof Error && err.name === 'HTTPParserError';
  if (parserError || code.startsWith('HPE_') || code.startsWith('UND_ERR_RES_')) {
    return new ProxyError(
      'EDGE_UPSTREAM_BAD_RESPONSE',
      `malformed response from ${ctx.upstream} (${code || 'HTTPParserError'}: ${errorMessage(err)})`,
      err,
    );
  }
  if (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED') {
    return new ProxyError('EDGE_BAD_REQUEST', `request cannot be forwarded: ${errorMessage(err)}`, err);
  }
  return new ProxyError('EDGE_INTERNAL', `exchange with ${ctx.upstream} failed: ${errorMessage(err)}`, err);
}
