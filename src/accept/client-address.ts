/**
 * Who the client is. Every stage downstream (logs, HTTP forwarding headers, outgoing PROXY headers,
 * NAT46 source addresses) uses the *effective* client address decided here, once per connection:
 *   1. the source of an accepted PROXY header (acceptProxyProtocol, from a trustedProxies peer only);
 *   2. else the IPv4 address embedded in a peer address inside one of clientNat64Prefixes (RFC 6052);
 *   3. else the peer itself, IPv4-mapped addresses of a dual-stack listener unmapped.
 * Rule 2 applies to a PROXY source too (a load balancer behind the translator passes on what it saw).
 *
 * The HTTP path calls `effectiveClient` (or reads `ctx.clientAddress`) for X-Forwarded-For/Forwarded.
 */
import { BlockList, type Socket } from 'node:net';
import type { ListenerConfig } from '../config/schema.js';
import { describeOutcome, ProxyError } from '../errors.js';
import { ipFamily } from '../ip.js';
import type { Logger } from '../observe/logger.js';
import { parseCidr } from '../resolve/address-policy.js';
import {
  createProxyHeaderSniffer,
  PP2_MAX_ACCEPTED_LENGTH,
  type ProxyHeader,
} from '../sniff/proxy-protocol.js';
import { formatHostPort, normalizeClientAddress } from './address.js';
import { ConnectionContext } from './context.js';
import { extractEmbeddedIpv4, parseNat64Prefix, type Nat64Prefix } from './nat64.js';
import { sniffSocket } from './sniff-socket.js';

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

export interface EffectiveClient {
  /** The client's address as every stage uses it: dotted IPv4 (never ::ffff:) or IPv6. */
  readonly address: string;
  readonly port: number;
  /** Which rule decided it. */
  readonly via: 'peer' | 'nat64' | 'proxy-protocol';
  /** The TCP peer when it is not the client: the load balancer, or the translator's IPv6 form. */
  readonly peer?: Endpoint;
  /** The address the client reached: the PROXY header's destination, else the socket's local address. */
  readonly local: Endpoint;
  /** The accepted header (its TLVs, or a LOCAL / UNKNOWN header that left the peer as the client). */
  readonly proxyHeader?: ProxyHeader;
}

/** A listener's client-address settings, parsed once per config object. */
export interface ClientAddressing {
  readonly nat64: readonly Nat64Prefix[];
  readonly acceptProxyProtocol: boolean;
  readonly trusted: BlockList;
  readonly headerTimeoutMs: number;
}

type AddressingConfig = Pick<
  ListenerConfig,
  'clientNat64Prefixes' | 'acceptProxyProtocol' | 'trustedProxies' | 'sniffTimeoutMs'
>;

const compiled = new WeakMap<AddressingConfig, ClientAddressing>();

/** Throws on an invalid prefix (validated configs never have one). */
export function clientAddressing(config: AddressingConfig): ClientAddressing {
  let entry = compiled.get(config);
  if (entry === undefined) {
    const nat64 = config.clientNat64Prefixes.map((text) => {
      const parsed = parseNat64Prefix(text);
      if (!parsed.ok) throw new TypeError(parsed.reason);
      return parsed.prefix;
    });
    const trusted = new BlockList();
    for (const text of config.trustedProxies) {
      const cidr = parseCidr(text);
      if (cidr === null) throw new TypeError(`trustedProxies: "${text}" is not a CIDR prefix`);
      trusted.addSubnet(cidr.address, cidr.prefix, cidr.family === 4 ? 'ipv4' : 'ipv6');
    }
    entry = {
      nat64,
      acceptProxyProtocol: config.acceptProxyProtocol,
      trusted,
      headerTimeoutMs: config.sniffTimeoutMs,
    };
    compiled.set(config, entry);
  }
  return entry;
}

/** Unmaps, then extracts a NAT64-embedded IPv4 address. */
function clientForm(
  address: string,
  nat64: readonly Nat64Prefix[],
): { address: string; translated: boolean } {
  const plain = normalizeClientAddress(address);
  const embedded = ipFamily(plain) === 6 ? extractEmbeddedIpv4(plain, nat64) : null;
  return embedded === null ? { address: plain, translated: false } : { address: embedded, translated: true };
}

/** Pure: the effective client from the socket's two ends and, when one was accepted, a PROXY header. */
export function effectiveClient(
  peer: { readonly address?: string | undefined; readonly port?: number | undefined },
  local: { readonly address?: string | undefined; readonly port?: number | undefined },
  opts: { readonly nat64Prefixes?: readonly Nat64Prefix[]; readonly proxyHeader?: ProxyHeader } = {},
): EffectiveClient {
  const nat64 = opts.nat64Prefixes ?? [];
  const peerEnd = { address: normalizeClientAddress(peer.address), port: peer.port ?? 0 };
  // The local end gets the NAT64 rule too: a translator may map the service address from the same prefix.
  const localEnd = { address: clientForm(local.address ?? 'unknown', nat64).address, port: local.port ?? 0 };
  const header = opts.proxyHeader;
  if (header?.command === 'proxy' && header.source !== undefined && header.destination !== undefined) {
    const source = clientForm(header.source.address, nat64);
    return {
      address: source.address,
      port: header.source.port,
      via: 'proxy-protocol',
      peer: peerEnd,
      local: {
        address: clientForm(header.destination.address, nat64).address,
        port: header.destination.port,
      },
      proxyHeader: header,
    };
  }
  const client = clientForm(peerEnd.address, nat64);
  return {
    address: client.address,
    port: peerEnd.port,
    via: client.translated ? 'nat64' : 'peer',
    ...(client.translated ? { peer: peerEnd } : {}),
    local: localEnd,
    ...(header === undefined ? {} : { proxyHeader: header }),
  };
}

export function isTrustedProxy(address: string, addressing: ClientAddressing): boolean {
  const plain = normalizeClientAddress(address);
  const family = ipFamily(plain);
  return family !== 0 && addressing.trusted.check(plain, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Decides the effective client of a freshly accepted (paused) socket. With acceptProxyProtocol it first
 * reads the PROXY header (peer must be trusted; bounded by the listener's sniffTimeoutMs) and puts back
 * whatever followed it, so the protocol handler reads the stream from its first byte. Throws a
 * ProxyError (EDGE_UNTRUSTED_PROXY, EDGE_BAD_PROXY_HEADER, EDGE_SNIFF_TIMEOUT, EDGE_CLIENT_CLOSED, …).
 */
export async function identifyClient(socket: Socket, config: AddressingConfig): Promise<EffectiveClient> {
  const addressing = clientAddressing(config);
  const peer = { address: socket.remoteAddress, port: socket.remotePort };
  const local = { address: socket.localAddress, port: socket.localPort };
  if (!addressing.acceptProxyProtocol)
    return effectiveClient(peer, local, { nat64Prefixes: addressing.nat64 });
  const peerAddress = normalizeClientAddress(peer.address);
  if (!isTrustedProxy(peerAddress, addressing)) {
    throw new ProxyError('EDGE_UNTRUSTED_PROXY', `peer ${peerAddress} is not in trustedProxies`);
  }
  const { value: header, head } = await sniffSocket(socket, createProxyHeaderSniffer(), {
    timeoutMs: addressing.headerTimeoutMs,
    maxBytes: PP2_MAX_ACCEPTED_LENGTH,
  });
  const rest = head.subarray(header.headerLength);
  if (rest.length > 0) socket.unshift(rest);
  return effectiveClient(peer, local, { nat64Prefixes: addressing.nat64, proxyHeader: header });
}

/** Log bindings for a connection's child logger. */
export function clientBindings(client: EffectiveClient): Record<string, string | number> {
  const out: Record<string, string | number> = { client: client.address, clientPort: client.port };
  if (client.peer !== undefined) out.peer = formatHostPort(client.peer.address, client.peer.port);
  return out;
}

/**
 * The listener's step between accept and the protocol handler: identifies the client and builds the
 * connection context whose logger carries it. A refused connection is logged (one "connection closed"
 * line with outcome and code, as every connection gets) and destroyed; the result is then null.
 */
export async function identifyConnection(
  socket: Socket,
  id: number,
  config: ListenerConfig,
  log: Logger,
): Promise<ConnectionContext | null> {
  let client: EffectiveClient;
  try {
    client = await identifyClient(socket, config);
  } catch (err) {
    const outcome = describeOutcome(err);
    const peer = normalizeClientAddress(socket.remoteAddress);
    log.info(
      {
        conn: id,
        listener: config.name,
        client: peer,
        clientPort: socket.remotePort ?? 0,
        outcome: outcome.outcome,
        code: outcome.code,
        reason: outcome.message,
      },
      'connection closed',
    );
    socket.on('error', () => {});
    socket.destroy();
    return null;
  }
  const child = log.child({ conn: id, listener: config.name, ...clientBindings(client) });
  return new ConnectionContext(id, config.name, client.address, client.port, child, client);
}
