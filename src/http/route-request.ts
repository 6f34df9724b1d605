/**
 * Routing one HTTP request (plain or upgrade): request target → route table → backend target and port,
 * forwarding info; then the AAAA lookup for a name target. Every refusal is a ProxyError.
 */
import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import { formatHostPort } from '../accept/address.js';
import type { EffectiveClient } from '../accept/client-address.js';
import type { DataPathState, ListenerRuntime } from '../accept/data-path.js';
import { clientSource, type ClientSource } from '../connect/client-source.js';
import { ProxyError } from '../errors.js';
import type { AccessRecord } from './access-log.js';
import { upstreamDefaultPort, type Termination } from '../tls/termination.js';
import { upstreamTlsFor } from '../tls/upstream-tls.js';
import type { Forwarding } from './headers.js';
import { parseRequestTarget } from './request-target.js';
import type { TrustedProxies } from './trusted-proxies.js';
import type { UpstreamTarget } from './upstream-pools.js';
import { isClientBound } from './client-bound.js';
import { round } from './access-log.js';

export interface RoutedRequest {
  readonly authority: string;
  readonly path: string;
  readonly target: UpstreamTarget;
  /** null: the route has forwardedHeaders: false. */
  readonly forwarding: Forwarding | null;
  /**
   * The client's address carried in the backend connection itself (PROXY header, NAT46 source): the
   * request needs a backend connection of this client connection's own. null: pooled connections.
   */
  readonly carry: ClientSource | null;
}

export interface RouteContext {
  readonly listener: ListenerRuntime;
  readonly state: DataPathState;
  readonly client: string;
  /** How the client was decided (accept/client-address.ts): PROXY headers and NAT46 sources use it. */
  readonly clientAddress?: EffectiveClient | undefined;
  readonly trusted: TrustedProxies;
  /** Set on connections whose TLS edge46 terminated (tls/termination.ts): https, 421 rules. */
  readonly termination?: Termination;
}

/** Every Host line of the request (node keeps only the first in `req.headers`). */
export function hostHeaders(raw: readonly string[]): string[] {
  const out: string[] = [];
  let authority: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] ?? '').toLowerCase();
    if (name === 'host') out.push(raw[i + 1] ?? '');
    // HTTP/2 (RFC 9113 §8.3.1): :authority; a Host beside it must name the same, else two hosts (400).
    else if (name === ':authority') authority = raw[i + 1] ?? '';
  }
  if (authority === undefined) return out;
  const same = authority.toLowerCase();
  return out.every((h) => h.toLowerCase() === same) ? [authority] : [authority, ...out];
}

/** Throws a ProxyError (400/421) when the request cannot be routed; fills the record as it goes. */
export function routeRequest(req: IncomingMessage, ctx: RouteContext, record: AccessRecord): RoutedRequest {
  const parsed = parseRequestTarget({
    url: req.url ?? '',
    hostHeaders: hostHeaders(req.rawHeaders),
    httpVersion: req.httpVersion,
  });
  if (!parsed.ok) throw new ProxyError(parsed.code, parsed.reason);
  record.host = parsed.name;
  const lookup = ctx.state.routes.lookup(parsed.name);
  if (!lookup.ok) {
    throw new ProxyError(
      'EDGE_NO_ROUTE',
      lookup.reason === 'no-route'
        ? `no route for ${parsed.name}`
        : `route target for ${parsed.name} is not a valid name`,
    );
  }
  const match = lookup.match;
  record.route = match.route.pattern;
  const routeConfig = ctx.state.config.routes[match.route.index];
  ctx.termination?.admit(parsed.name, routeConfig);
  const port =
    match.port ??
    upstreamDefaultPort(routeConfig, ctx.termination !== undefined) ??
    ctx.listener.config.backendPort ??
    ctx.listener.port;
  const tls = upstreamTlsFor(routeConfig, match.target.kind === 'name' ? match.target.name : null);
  const target: UpstreamTarget =
    match.target.kind === 'address'
      ? { kind: 'address', address: match.target.address, port, tls }
      : { kind: 'name', name: match.target.name, port, tls };
  record.target = target.kind === 'address' ? formatHostPort(target.address, port) : `${target.name}:${port}`;
  const forwardedHeaders = ctx.state.config.routes[match.route.index]?.forwardedHeaders ?? true;
  const forwarding: Forwarding | null = forwardedHeaders
    ? {
        client: ctx.client,
        trusted: ctx.trusted.contains(ctx.client),
        host: parsed.authority,
        proto: ctx.termination?.proto ?? 'http',
      }
    : null;
  const carry = carryFor(ctx, routeConfig, parsed.name);
  record.source = carry?.dial.localAddress;
  if (carry !== null && carry.proxyProtocol !== 'none') record.proxyProtocol = carry.proxyProtocol;
  return {
    authority: parsed.authority,
    path: parsed.path,
    target,
    forwarding,
    carry,
  };
}

/**
 * proxyProtocol / sourceNat46Prefix of the route (the listener's by default), on http listeners. The
 * PROXY v2 authority is the Host name; ALPN is http/1.1 (what is spoken to the backend). Terminated TLS
 * keeps pooled connections: the forwarding headers carry the client there.
 */
function carryFor(
  ctx: RouteContext,
  route: Parameters<typeof clientSource>[0]['route'],
  name: string,
): ClientSource | null {
  if (ctx.clientAddress === undefined || ctx.termination !== undefined) return null;
  const carry = clientSource({
    listener: ctx.listener.config,
    route,
    client: ctx.clientAddress,
    authority: name,
    alpn: 'http/1.1',
    policy: ctx.state.policy,
  });
  return isClientBound(carry) ? carry : null;
}

/**
 * The target's allowed addresses (AAAA through the cached resolver, allowlist applied), timed into the
 * record. A literal target needs no lookup (the dialler still checks it against the allowlist).
 */
export async function resolveTarget(
  target: UpstreamTarget,
  state: DataPathState,
  record: AccessRecord,
): Promise<readonly string[]> {
  if (target.kind === 'address') return [target.address];
  const started = performance.now();
  try {
    return (await state.resolver.resolve(target.name, state.policy)).addresses;
  } finally {
    record.durations.resolve = round(performance.now() - started);
  }
}
