/**
 * Which name an HTTP request is routed by, and what path goes upstream. Pure: takes the request line's
 * target, the Host header lines and the version; never touches a socket.
 *
 * RFC 9112 §3.2.2: the authority of an absolute-form target wins over Host (a proxy MUST ignore Host
 * then, and the Host sent on is the target's authority). RFC 9112 §3.2: an HTTP/1.1 request without
 * Host, or with more than one, gets 400. A port in the authority is ignored for routing and dialling
 * (the client never chooses the backend port); an IP literal is never routed (421, like an unknown name).
 */
import { isIPv6 } from 'node:net';
import type { ErrorCode } from '../errors.js';
import { normalizeHostname } from '../route/hostname.js';

export interface RequestTargetInput {
  /** The request-target as received (node's `req.url`). */
  readonly url: string;
  /** Every Host header line, in order (usually one). */
  readonly hostHeaders: readonly string[];
  /** "1.1", "1.0". */
  readonly httpVersion: string;
}

export type RequestTarget =
  | {
      readonly ok: true;
      /** The authority as received (case and port kept): the Host sent upstream, X-Forwarded-Host. */
      readonly authority: string;
      /** Normalised name the route table is asked for. */
      readonly name: string;
      /** Origin-form path (with query) sent upstream; "*" for OPTIONS *. */
      readonly path: string;
      /** True when the request line carried an absolute-form target. */
      readonly absolute: boolean;
    }
  | {
      readonly ok: false;
      readonly code: Extract<
        ErrorCode,
        'EDGE_NO_HOST' | 'EDGE_BAD_HOST' | 'EDGE_IP_LITERAL' | 'EDGE_BAD_REQUEST'
      >;
      readonly reason: string;
    };

const ABSOLUTE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;

type Failure = Extract<RequestTarget, { ok: false }>;

function fail(code: Failure['code'], reason: string): Failure {
  return { ok: false, code, reason };
}

export function parseRequestTarget(input: RequestTargetInput): RequestTarget {
  if (input.hostHeaders.length > 1) return fail('EDGE_BAD_HOST', 'more than one Host header');
  const host = input.hostHeaders[0];
  if (host === undefined && input.httpVersion !== '1.0') return fail('EDGE_NO_HOST', 'no Host header');

  const url = input.url;
  // RFC 9112 §3.2: a request-target never carries a fragment.
  if (url.includes('#')) return fail('EDGE_BAD_REQUEST', 'fragment in request target');
  let authority: string;
  let path: string;
  let absolute = false;
  const scheme = ABSOLUTE.exec(url);
  if (scheme !== null) {
    const name = (scheme[1] ?? '').toLowerCase();
    if (name !== 'http' && name !== 'https')
      return fail('EDGE_BAD_REQUEST', `unsupported scheme in request target: ${name}`);
    const rest = url.slice(scheme[0].length);
    const end = rest.search(/[/?]/);
    authority = end === -1 ? rest : rest.slice(0, end);
    const tail = end === -1 ? '' : rest.slice(end);
    if (authority.includes('@')) return fail('EDGE_BAD_REQUEST', 'userinfo in request target');
    path = tail === '' ? '/' : tail.startsWith('?') ? `/${tail}` : tail;
    absolute = true;
  } else if (url.startsWith('/') || url === '*') {
    authority = host ?? '';
    path = url;
  } else {
    return fail('EDGE_BAD_REQUEST', 'request target is neither origin-form nor absolute-form');
  }
  if (authority === '') return fail('EDGE_NO_HOST', absolute ? 'empty authority' : 'empty Host header');

  const name = routingName(authority);
  if (!name.ok) return name;
  return { ok: true, authority, name: name.name, path, absolute };
}

/** The host part of "name", "name:port", "[v6]:port", normalised; the port is checked and dropped. */
export function routingName(authority: string): { ok: true; name: string } | Failure {
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    const inner = close === -1 ? '' : authority.slice(1, close);
    if (isIPv6(inner.split('%')[0] ?? '')) return fail('EDGE_IP_LITERAL', 'IP literals are never routed');
    return fail('EDGE_BAD_HOST', 'malformed IP literal in host');
  }
  const colon = authority.lastIndexOf(':');
  let host = authority;
  if (colon !== -1) {
    const port = authority.slice(colon + 1);
    if (!/^[0-9]{0,5}$/.test(port) || Number(port) > 65535) return fail('EDGE_BAD_HOST', 'bad port in host');
    host = authority.slice(0, colon);
  }
  const checked = normalizeHostname(host, { allowTrailingDot: true });
  if (checked.ok) return { ok: true, name: checked.name };
  if (checked.ipLiteral) return fail('EDGE_IP_LITERAL', 'IP literals are never routed');
  return fail('EDGE_BAD_HOST', `host is not a valid name: ${checked.reason}`);
}
