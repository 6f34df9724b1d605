/**
 * The I/O shell around a pure sniffer: reads from a paused socket until the sniffer decides, bounded by
 * a deadline and a byte limit. Nothing read is consumed: the caller forwards `head` to the backend.
 */
import type { Socket } from 'node:net';
import { ProxyError } from '../errors.js';
import type { Sniffer } from '../sniff/sniffer.js';

export interface SniffOutcome<T> {
  readonly value: T;
  /** Every byte read so far, in order (the hello and whatever followed it in the same reads). */
  readonly head: Buffer;
}

export function sniffSocket<T>(
  socket: Socket,
  sniffer: Sniffer<T>,
  opts: { timeoutMs: number; maxBytes: number },
): Promise<SniffOutcome<T>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.pause();
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.off('close', onEnd);
    };
    const fail = (err: ProxyError): void => {
      cleanup();
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      length += chunk.length;
      const head = chunks.length === 1 ? chunk : Buffer.concat(chunks, length);
      if (chunks.length > 1) {
        chunks.length = 0;
        chunks.push(head);
      }
      const result = sniffer.sniff(head);
      if (result.kind === 'done') {
        cleanup();
        resolve({ value: result.value, head });
      } else if (result.kind === 'invalid') {
        fail(new ProxyError(result.code, `${sniffer.protocol}: ${result.reason}`));
      } else if (length >= opts.maxBytes) {
        fail(
          new ProxyError('EDGE_HELLO_TOO_LARGE', `${sniffer.protocol}: no complete hello in ${length} bytes`),
        );
      }
    };
    const onEnd = (): void => {
      fail(
        new ProxyError('EDGE_CLIENT_CLOSED', `client closed after ${length} bytes, before a complete hello`),
      );
    };
    const onError = (err: Error): void => {
      fail(new ProxyError('EDGE_CLIENT_RESET', `client error before a complete hello: ${err.message}`, err));
    };
    const timer = setTimeout(() => {
      fail(
        new ProxyError(
          'EDGE_SNIFF_TIMEOUT',
          `no complete hello within ${opts.timeoutMs} ms (${length} bytes read)`,
        ),
      );
    }, opts.timeoutMs);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('close', onEnd);
    socket.resume();
  });
}
