/** Parsing of "host:port" forms used in the config, and normalisation of client addresses. */
import { isIP } from 'node:net';

export interface HostPort {
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
}

/**
 * Parses "0.0.0.0:443", "[::]:443", "[2001:db8::1]:443". IPv6 must be bracketed so that the port is
 * never ambiguous. Returns null for anything else (including host names: listeners bind addresses).
 */
export function parseHostPort(text: string, opts: { portRequired?: boolean } = {}): HostPort | null {
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return null;
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest.length > 0) {
      if (!rest.startsWith(':')) return null;
      portText = rest.slice(1);
    }
    if (isIP(host) !== 6) return null;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon >= 0) {
      host = text.slice(0, colon);
      portText = text.slice(colon + 1);
    } else {
      host = text;
    }
    if (isIP(host) !== 4) return null;
  }
  if (portText === undefined) {
    if (opts.portRequired !== false) return null;
    return { host, port: 0, family: isIP(host) === 6 ? 6 : 4 };
  }
  if (!/^[0-9]{1,5}$/.test(portText)) return null;
  const port = Number(portText);
  if (port > 65535) return null;
  return { host, port, family: isIP(host) === 6 ? 6 : 4 };
}

export function formatHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * A dual-stack listener reports IPv4 clients as "::ffff:a.b.c.d"; everything downstream (logs, PROXY
 * headers, forwarding headers) wants the plain IPv4 form.
 */
export function normalizeClientAddress(address: string | undefined): string {
  if (address === undefined) return 'unknown';
  const lower = address.toLowerCase();
  if (lower.startsWith('::ffff:')) {
    const tail = lower.slice(7);
    if (isIP(tail) === 4) return tail;
  }
  return address;
}
