/**
 * Header rewriting between client and backend. Pure functions over flat raw header lists
 * (`[name, value, name, value, …]`, as node's `rawHeaders` and undici's raw headers are).
 *
 * - Hop-by-hop fields (RFC 9110 §7.6.1) are never forwarded: Connection and every name it lists,
 *   Keep-Alive, Proxy-Connection, TE (except "trailers" on requests), Transfer-Encoding, Upgrade,
 *   Proxy-Authorization / Proxy-Authenticate. Requests also lose Trailer (edge46 cannot forward request
 *   trailers through undici) and Expect (edge46 answers 100-continue itself).
 * - Forwarding fields: X-Forwarded-For (appended), X-Forwarded-Proto, X-Forwarded-Host and RFC 7239
 *   Forwarded. From a client outside trustedProxies the incoming ones are dropped and replaced; from a
 *   trusted proxy they are kept and our hop is appended.
 */
import { isIPv6 } from 'node:net';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
]);

/** Dropped from requests on top of the hop-by-hop set. */
const REQUEST_ONLY = new Set(['host', 'expect', 'trailer']);

const FORWARDING = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded']);

export interface Forwarding {
  /** The client's address (IPv4-mapped already normalised to IPv4). */
  readonly client: string;
  /** The client is inside trustedProxies: its forwarding headers are kept and appended to. */
  readonly trusted: boolean;
  /** The authority the client asked for (Host or absolute-form target). */
  readonly host: string;
  readonly proto: 'http' | 'https';
}

export interface UpstreamHeaderOptions {
  /** Sent as Host (RFC 9112 §3.2.2: the absolute-form authority replaces the received Host). */
  readonly authority: string;
  /** null: per-route forwardedHeaders false, the client's forwarding fields pass untouched. */
  readonly forwarding: Forwarding | null;
  /** The Upgrade value to keep (with Connection: upgrade), for upgrade requests only. */
  readonly upgrade?: string;
}

type Raw = readonly (string | Buffer)[];

function text(value: string | Buffer | undefined): string {
  if (value === undefined) return '';
  return typeof value === 'string' ? value : value.toString('latin1');
}

/** Lowercased names listed by every Connection line (RFC 9110 §7.6.1 connection options). */
function connectionOptions(raw: Raw): Set<string> {
  const names = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (text(raw[i]).toLowerCase() !== 'connection') continue;
    for (const token of text(raw[i + 1]).split(',')) {
      const name = token.trim().toLowerCase();
      if (name !== '') names.add(name);
    }
  }
  return names;
}

function hasToken(value: string, token: string): boolean {
  return value.split(',').some((part) => part.split(';')[0]?.trim().toLowerCase() === token);
}

/** The header list sent to the backend for a client request (`raw`: node's req.rawHeaders). */
export function upstreamRequestHeaders(raw: readonly string[], opts: UpstreamHeaderOptions): string[] {
  const listed = connectionOptions(raw);
  const out: string[] = ['host', opts.authority];
  let teTrailers = false;
  const prior = {
    xff: [] as string[],
    proto: null as string | null,
    host: null as string | null,
    fwd: [] as string[],
  };
  const cookies: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] ?? '';
    const value = raw[i + 1] ?? '';
    const lower = name.toLowerCase();
    // HTTP/2 pseudo-header fields (:method, :path, :authority, :scheme) are not header fields.
    if (lower.startsWith(':')) continue;
    // HTTP/2 may split Cookie into several fields; HTTP/1.1 wants one (RFC 9113 §8.2.3).
    if (lower === 'cookie') {
      cookies.push(value);
      continue;
    }
    if (lower === 'te') {
      teTrailers ||= hasToken(value, 'trailers');
      continue;
    }
    if (HOP_BY_HOP.has(lower) || REQUEST_ONLY.has(lower) || listed.has(lower)) continue;
    if (opts.forwarding !== null && FORWARDING.has(lower)) {
      if (lower === 'x-forwarded-for') prior.xff.push(value);
      else if (lower === 'forwarded') prior.fwd.push(value);
      else if (lower === 'x-forwarded-proto') prior.proto ??= value;
      else prior.host ??= value;
      continue;
    }
    out.push(name, value);
  }
  if (cookies.length > 0) out.push('cookie', cookies.join('; '));
  if (teTrailers) out.push('te', 'trailers');
  if (opts.upgrade !== undefined) out.push('connection', 'upgrade', 'upgrade', opts.upgrade);
  const f = opts.forwarding;
  if (f !== null) {
    const keep = f.trusted;
    const xff = keep ? prior.xff.map((v) => v.trim()).filter((v) => v !== '') : [];
    xff.push(f.client);
    out.push('x-forwarded-for', xff.join(', '));
    out.push('x-forwarded-proto', keep && prior.proto !== null ? prior.proto : f.proto);
    out.push('x-forwarded-host', keep && prior.host !== null ? prior.host : f.host);
    const fwd = keep ? prior.fwd.map((v) => v.trim()).filter((v) => v !== '') : [];
    fwd.push(forwardedElement(f));
    out.push('forwarded', fwd.join(', '));
  }
  return out;
}

/** One RFC 7239 forwarded-element: `for=192.0.2.10;host=web.example;proto=http`. */
export function forwardedElement(f: Forwarding): string {
  return `for=${forwardedNode(f.client)};host=${quoteIfNeeded(f.host)};proto=${f.proto}`;
}

/** RFC 7239 §6: IPv6 in brackets and quoted (":" is not a token character), IPv4 plain. */
export function forwardedNode(address: string): string {
  if (isIPv6(address)) return `"[${address}]"`;
  return quoteIfNeeded(address);
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function quoteIfNeeded(value: string): string {
  if (TOKEN.test(value)) return value;
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export interface ResponseHeaderOptions {
  /** Keep Connection/Upgrade (the 101 of an upgrade). */
  readonly upgrade?: boolean;
}

/** The header list sent to the client for a backend response (or its trailers). */
export function clientResponseHeaders(raw: Raw, opts: ResponseHeaderOptions = {}): string[] {
  const listed = connectionOptions(raw);
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = text(raw[i]);
    const lower = name.toLowerCase();
    if (opts.upgrade === true && (lower === 'connection' || lower === 'upgrade')) {
      out.push(name, text(raw[i + 1]));
      continue;
    }
    if (HOP_BY_HOP.has(lower) || listed.has(lower)) continue;
    out.push(name, text(raw[i + 1]));
  }
  return out;
}

/** Whether a request carries a body (RFC 9112 §6.3: Transfer-Encoding, or a non-zero Content-Length). */
export function requestHasBody(headers: { readonly [name: string]: string | string[] | undefined }): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return typeof length === 'string' && length !== '0';
}
