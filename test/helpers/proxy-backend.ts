/**
 * A TLS backend on [::1] that expects a PROXY protocol header first (as nginx's `listen … ssl
 * proxy_protocol` does): it decodes the header with edge46's own parser, then terminates TLS on the
 * rest of the stream and answers one line describing what it saw:
 *   `<source addr> <source port> <family> <version> <authority or -> <peer address>\n`
 * A connection without a valid header gets `bad header: <reason>\n` in clear and is closed.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import tls from 'node:tls';
import type { Test } from 'tap';
import { parseProxyHeader, PP2_TYPE_AUTHORITY, type ProxyHeader } from '../../src/sniff/proxy-protocol.js';
import { testPki } from './tls-backend.js';

export interface ProxiedConnection {
  readonly header: ProxyHeader;
  /** The TCP peer: edge46's address (or its NAT46 source). */
  readonly peer: string;
  readonly servername: string;
}

export interface ProxiedBackend {
  readonly port: number;
  readonly server: Server;
  readonly connections: ProxiedConnection[];
  /** Resolves with the n-th (0-based) connection once its header has been read. */
  connection(n: number): Promise<ProxiedConnection>;
}

export async function startProxiedTlsBackend(t: Test, host = '::1'): Promise<ProxiedBackend> {
  const connections: ProxiedConnection[] = [];
  const waiters: { n: number; resolve: (c: ProxiedConnection) => void }[] = [];
  const record = (c: ProxiedConnection): void => {
    connections.push(c);
    for (const w of waiters.filter((w) => w.n === connections.length - 1)) w.resolve(c);
  };
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    void readHeader(socket).then((result) => {
      if (typeof result === 'string') {
        socket.end(`bad header: ${result}\n`);
        return;
      }
      const secure = new tls.TLSSocket(socket, { isServer: true, cert: testPki.cert, key: testPki.key });
      secure.on('error', () => {});
      secure.once('secure', () => {
        const servername = typeof secure.servername === 'string' ? secure.servername : '';
        const conn = { header: result, peer: socket.remoteAddress ?? '', servername };
        record(conn);
        const src = result.source;
        const authority = result.tlvs.get(PP2_TYPE_AUTHORITY)?.toString() ?? '-';
        secure.end(
          `${src?.address ?? '-'} ${src?.port ?? '-'} ${result.family} v${result.version} ${authority} ${conn.peer}\n`,
        );
      });
    });
  });
  server.listen(0, host);
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    port: (server.address() as AddressInfo).port,
    server,
    connections,
    connection: (n) => {
      const known = connections[n];
      if (known !== undefined) return Promise.resolve(known);
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
  };
}

/** Reads until the header is complete; unshifts what follows it. A string is the reason it is invalid. */
function readHeader(socket: Socket): Promise<ProxyHeader | string> {
  return new Promise((resolve) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const r = parseProxyHeader(buffered);
      if (r.kind === 'need-more') return;
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.pause();
      if (r.kind === 'invalid') return resolve(r.reason);
      const rest = buffered.subarray(r.value.headerLength);
      if (rest.length > 0) socket.unshift(rest);
      resolve(r.value);
    };
    const onEnd = (): void => resolve(`closed after ${buffered.length} bytes`);
    socket.on('data', onData);
    socket.on('end', onEnd);
  });
}
