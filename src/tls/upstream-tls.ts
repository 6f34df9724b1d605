/**
 * TLS to the backend (`upstream: https`): the dialler's socket is wrapped in a client TLSSocket that
 * verifies the backend certificate against the system CAs or the route's `upstreamCa`, for the target
 * name (sent as SNI) or, for a literal target, its IP address. `upstreamInsecure` turns verification
 * off (and start-up logs a warning). A refused certificate is EDGE_UPSTREAM_TLS (502).
 */
import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import type { RouteConfig } from '../config/schema.js';
import { errnoCode, errorMessage, ProxyError } from '../errors.js';

export interface UpstreamTls {
  /** The name verified and sent as SNI; null for a literal address (verified against IP SANs). */
  readonly servername: string | null;
  readonly caFile: string | undefined;
  readonly insecure: boolean;
}

/** The TLS settings of a route whose upstream is https; undefined for plain http. */
export function upstreamTlsFor(
  route: RouteConfig | undefined,
  targetName: string | null,
): UpstreamTls | undefined {
  if (route?.upstream !== 'https') return undefined;
  return { servername: targetName, caFile: route.upstreamCa, insecure: route.upstreamInsecure === true };
}

/** Distinguishes pools: one per target, port, and TLS verification setting. */
export function upstreamTlsKey(tls: UpstreamTls | undefined): string {
  if (tls === undefined) return 'http';
  return tls.insecure ? 'https-insecure' : `https:${tls.caFile ?? 'system'}`;
}

/**
 * Completes a TLS handshake over `socket` (already connected by the dialler); rejects with a
 * ProxyError naming the backend and the reason, and destroys the socket.
 */
export async function secureUpstream(
  socket: Socket,
  tls: UpstreamTls,
  opts: { readonly address: string; readonly timeoutMs: number },
): Promise<TLSSocket> {
  let ca: string | undefined;
  if (tls.caFile !== undefined) {
    try {
      ca = await readFile(tls.caFile, 'utf8');
    } catch (err) {
      socket.destroy();
      throw new ProxyError(
        'EDGE_UPSTREAM_TLS',
        `cannot read upstreamCa ${tls.caFile}: ${errnoCode(err) ?? 'error'}`,
        err,
      );
    }
  }
  const backend = tls.servername ?? opts.address;
  return new Promise<TLSSocket>((resolve, reject) => {
    const secure = connect({
      socket,
      // checkServerIdentity checks this name (or IP address) against the certificate.
      host: backend,
      ...(tls.servername === null ? {} : { servername: tls.servername }),
      ...(ca === undefined ? {} : { ca }),
      rejectUnauthorized: !tls.insecure,
      minVersion: 'TLSv1.2',
      // The backend speaks HTTP/1.1 through undici.
      ALPNProtocols: ['http/1.1'],
    });
    const timer = setTimeout(() => {
      fail(new Error(`no TLS handshake within ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      secure.off('secureConnect', onSecure);
      secure.destroy();
      socket.destroy();
      const code = errnoCode(err);
      reject(
        new ProxyError(
          'EDGE_UPSTREAM_TLS',
          `TLS to ${backend} (${opts.address}) failed: ${code === undefined ? '' : `${code}: `}${errorMessage(err)}`,
          err,
        ),
      );
    };
    const onSecure = (): void => {
      clearTimeout(timer);
      secure.off('error', fail);
      resolve(secure);
    };
    secure.once('secureConnect', onSecure);
    secure.once('error', fail);
  });
}
