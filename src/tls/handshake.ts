/**
 * The server side of a TLS handshake on a connection whose ClientHello edge46 has already read: the
 * peeked bytes are put back (`unshift`) and a server TLSSocket is made on the same net.Socket. Node's
 * TLSSocket feeds whatever the net.Socket has buffered into the TLS layer before reading from the
 * handle, and the handle itself stays native (no JS stream wrapper in between).
 */
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { errnoCode, errorMessage, ProxyError } from '../errors.js';
import { ALPN_PROTOCOLS } from './server-context.js';
import type { SecureContext } from 'node:tls';

export interface Handshake {
  readonly socket: TLSSocket;
  /** Negotiated with ALPN; HTTP/1.1 when the client offered neither h2 nor http/1.1. */
  readonly protocol: 'h2' | 'http/1.1';
  /** "TLSv1.3", "TLSv1.2". */
  readonly version: string;
  /** The client resumed a session (ticket), skipping the certificate exchange. */
  readonly resumed: boolean;
  readonly ms: number;
}

export function completeHandshake(
  socket: Socket,
  head: Buffer,
  opts: { readonly context: SecureContext; readonly timeoutMs: number },
): Promise<Handshake> {
  const started = performance.now();
  socket.unshift(head);
  const secure = new TLSSocket(socket, {
    isServer: true,
    secureContext: opts.context,
    ALPNProtocols: ALPN_PROTOCOLS,
    requestCert: false,
  });
  return new Promise<Handshake>((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      secure.off('secure', onSecure);
      secure.off('error', onError);
      secure.off('close', onClose);
    };
    const fail = (err: ProxyError): void => {
      cleanup();
      // Keep a late error from an already failed socket from becoming an uncaught exception.
      secure.on('error', () => {});
      secure.destroy();
      socket.destroy();
      reject(err);
    };
    const onSecure = (): void => {
      cleanup();
      // A server TLSSocket made outside tls.Server keeps secureConnecting set; node:http2 waits on it.
      (secure as unknown as { secureConnecting: boolean }).secureConnecting = false;
      resolve({
        socket: secure,
        protocol: secure.alpnProtocol === 'h2' ? 'h2' : 'http/1.1',
        version: secure.getProtocol() ?? 'unknown',
        resumed: secure.isSessionReused(),
        ms: Math.round((performance.now() - started) * 10) / 10,
      });
    };
    const onError = (err: Error): void => {
      const code = errnoCode(err);
      // OpenSSL's message carries its source paths; its `reason` ("unsupported protocol") is the part to log.
      const reason = (err as { reason?: unknown }).reason;
      const why = typeof reason === 'string' ? reason : (errorMessage(err).split('\n')[0] ?? '');
      fail(
        new ProxyError(
          'EDGE_TLS_HANDSHAKE',
          `TLS handshake failed: ${code === undefined ? '' : `${code}: `}${why}`,
          err,
        ),
      );
    };
    const onClose = (): void => {
      fail(new ProxyError('EDGE_CLIENT_CLOSED', 'client closed the connection during the TLS handshake'));
    };
    const timer = setTimeout(() => {
      fail(new ProxyError('EDGE_TLS_HANDSHAKE', `no TLS handshake within ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
    secure.once('secure', onSecure);
    secure.once('error', onError);
    secure.once('close', onClose);
  });
}
