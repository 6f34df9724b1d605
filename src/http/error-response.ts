/**
 * What an HTTP client sees when edge46 cannot serve its request: the status that `describeOutcome`
 * (src/errors.ts, the one mapping) gives the error, and a short text/plain body naming the reason. The
 * body names the code for every failure; the details (addresses, resolver answers) go only to the log,
 * except for the client's own mistakes, which are echoed (escaped) so that the client can fix them.
 */
import { STATUS_CODES } from 'node:http';
import type { OutcomeDescription } from '../errors.js';
import { escapeForLog } from '../route/hostname.js';

export function errorBody(d: OutcomeDescription): string {
  const status = `${d.httpStatus} ${STATUS_CODES[d.httpStatus] ?? 'Error'}`;
  const detail = d.side === 'client' && d.message !== '' ? `: ${escapeForLog(d.message, 200)}` : '';
  return `${status}\n${d.code}${detail}\n`;
}

/** A complete response for a socket no ServerResponse owns (parse errors, limits, upgrades). */
export function rawErrorResponse(d: OutcomeDescription): Buffer {
  const body = errorBody(d);
  return Buffer.from(
    `HTTP/1.1 ${d.httpStatus} ${STATUS_CODES[d.httpStatus] ?? 'Error'}\r\n` +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
    'latin1',
  );
}
