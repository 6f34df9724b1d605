/**
 * The few places where an HTTP/2 request from a terminated connection (node:http2's compatibility
 * Http2ServerRequest/Response, which otherwise stand in for IncomingMessage/ServerResponse) must be
 * treated differently from HTTP/1.1 by the shared proxy exchange:
 * - a body follows unless END_STREAM came with HEADERS (RFC 9113 §8.1: no Content-Length needed);
 * - there is no reason phrase (RFC 9113 §8.3.2);
 * - a failure mid-response resets the stream (RST_STREAM), not the connection its siblings share.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants, type ServerHttp2Stream } from 'node:http2';

type Headers = { readonly [name: string]: string | string[] | undefined };

/** The HTTP/2 stream behind a compat request or response; undefined for HTTP/1.x. */
export function http2StreamOf(message: IncomingMessage | ServerResponse): ServerHttp2Stream | undefined {
  const stream = (message as { stream?: ServerHttp2Stream }).stream;
  return typeof stream === 'object' && stream !== null ? stream : undefined;
}

/** Whether a request body follows its head; `http1` decides for HTTP/1.x by the framing headers. */
export function requestBodyFollows(req: IncomingMessage, http1: (headers: Headers) => boolean): boolean {
  const stream = http2StreamOf(req);
  return stream === undefined ? http1(req.headers) : !stream.endAfterHeaders;
}

/** Writes a response head: HTTP/2 without the reason phrase (node warns about one). */
export function writeResponseHead(
  res: ServerResponse,
  status: number,
  reason: string,
  headers: readonly string[],
): void {
  if (http2StreamOf(res) !== undefined) res.writeHead(status, headers as string[]);
  else res.writeHead(status, reason, headers as string[]);
}

/** Ends an exchange that failed mid-response so the client never takes it for complete. */
export function resetExchange(req: IncomingMessage, res: ServerResponse): void {
  const stream = http2StreamOf(res);
  if (stream !== undefined) {
    if (!stream.destroyed) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    return;
  }
  const socket = req.socket;
  if (!socket.destroyed) socket.resetAndDestroy();
}
