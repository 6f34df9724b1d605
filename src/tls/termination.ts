/**
 * What the HTTP path needs to know about a connection whose TLS edge46 terminated: that requests came
 * over https (X-Forwarded-Proto, Forwarded proto), and which request names may be served on it.
 *
 * Clients reuse a connection for another name when the certificate covers it and the address is the
 * same (HTTP/2 connection coalescing, RFC 9113 §9.1.1). Such a request is routed by its own authority
 * only when that name is a terminate route and the connection's certificate covers it; anything else
 * is 421 Misdirected Request (RFC 9110 §15.5.20), so the client retries on a new connection. A request
 * is never sent to the backend of the SNI it did not ask for.
 */
import type { RouteConfig } from '../config/schema.js';
import { ProxyError } from '../errors.js';
import { certificateCovers } from './select.js';

export class Termination {
  readonly proto = 'https' as const;

  constructor(
    /** The name the connection was routed by: its SNI, or the listener's defaultHost without one. */
    readonly connectionName: string,
    /** SAN names of the certificate the handshake presented. */
    readonly certificateNames: readonly string[],
  ) {}

  /** Throws EDGE_MISDIRECTED_REQUEST unless `name` (normalised) may be served on this connection. */
  admit(name: string, route: RouteConfig | undefined): void {
    if (route?.tls !== 'terminate') {
      throw new ProxyError(
        'EDGE_MISDIRECTED_REQUEST',
        `${name} is not a terminate route (connection for ${this.connectionName})`,
      );
    }
    if (name !== this.connectionName && !certificateCovers(this.certificateNames, name)) {
      throw new ProxyError(
        'EDGE_MISDIRECTED_REQUEST',
        `the certificate of this connection (for ${this.connectionName}) does not cover ${name}`,
      );
    }
  }
}

/**
 * Backend port of a proxied request whose route names none: https upstreams dial 443, plain http
 * behind a terminate route 80; undefined leaves it to the listener (backendPort, else its own port).
 */
export function upstreamDefaultPort(route: RouteConfig | undefined, terminated: boolean): number | undefined {
  if (route?.upstream === 'https') return 443;
  return terminated ? 80 : undefined;
}
