/** Real TLS servers on [::1] standing in for IPv6-only backends, with the committed test PKI. */
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import type { Test } from 'tap';

const certDir = new URL('../fixtures/certs/', import.meta.url);
export const testPki = {
  ca: readFileSync(new URL('ca.crt', certDir)),
  cert: readFileSync(new URL('backend.crt', certDir)),
  key: readFileSync(new URL('backend.key', certDir)),
  caFile: new URL('ca.crt', certDir).pathname,
};

export interface TlsBackend {
  readonly port: number;
  readonly server: tls.Server;
  /** Names (SNI) of the connections this backend accepted, in order. */
  readonly seen: string[];
}

/**
 * Answers each connection with `${label} ${sni}\n` and then echoes what it receives (or runs `onSocket`).
 */
export async function startTlsBackend(
  t: Test,
  label: string,
  onSocket?: (socket: tls.TLSSocket) => void,
): Promise<TlsBackend> {
  const seen: string[] = [];
  const server = tls.createServer({ cert: testPki.cert, key: testPki.key, allowHalfOpen: true }, (socket) => {
    const sni = typeof socket.servername === 'string' ? socket.servername : '';
    seen.push(sni);
    socket.on('error', () => {});
    if (onSocket !== undefined) return onSocket(socket);
    socket.write(`${label} ${sni}\n`);
    socket.pipe(socket);
  });
  server.listen(0, '::1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as AddressInfo).port, server, seen };
}

/** Connects through the edge with SNI `servername`, verifying against the test CA. */
export function connectTls(
  port: number,
  servername: string | undefined,
  extra: tls.ConnectionOptions = {},
): tls.TLSSocket {
  return tls.connect({
    host: '127.0.0.1',
    port,
    ...(servername === undefined ? {} : { servername }),
    ca: testPki.ca,
    checkServerIdentity: () => undefined,
    ...extra,
  });
}

/** Reads one line from a stream, leaving the stream paused and any bytes after the newline unread. */
export function readLine(stream: NodeJS.ReadableStream & { unshift(chunk: Buffer): void }): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const cleanup = (): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.pause();
    };
    const onData = (chunk: Buffer | string): void => {
      buffered += String(chunk);
      const nl = buffered.indexOf('\n');
      if (nl < 0) return;
      cleanup();
      const rest = buffered.slice(nl + 1);
      if (rest.length > 0) stream.unshift(Buffer.from(rest));
      resolve(buffered.slice(0, nl));
    };
    const onEnd = (): void => {
      cleanup();
      resolve(buffered);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    // A 'data' listener does not restart a stream that was paused explicitly (by an earlier readLine).
    stream.resume();
  });
}
