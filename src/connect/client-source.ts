/**
 * How one connection carries its client's address to the backend, per route (the listener gives the
 * default): a PROXY protocol header written before any other byte, and/or a NAT46 source address to
 * dial from. Pure apart from the socket factory it hands to the dialer.
 */
import type { Socket } from 'node:net';
import type { EffectiveClient } from '../accept/client-address.js';
import { parseHostPort } from '../accept/address.js';
import type { ListenerConfig, RouteConfig } from '../config/schema.js';
import type { AddressPolicy } from '../resolve/address-policy.js';
import { createNat46Socket, nat46LocalAddress } from './nat46.js';
import { encodeProxyHeader, type ProxyProtocolVersion } from './proxy-header.js';

export interface ClientSource {
  readonly proxyProtocol: 'none' | ProxyProtocolVersion;
  /** Bytes to send to the backend before the client's first byte; null without proxyProtocol. */
  readonly header: Buffer | null;
  /** The NAT46 prefix in force for this connection, if any. */
  readonly nat46Prefix?: string;
  /** Options for dial(): the local address and a socket that may bind it. Empty: the edge's own address. */
  readonly dial: { readonly localAddress?: string; readonly createSocket?: () => Socket };
}

export interface ClientSourceInput {
  readonly listener: Pick<ListenerConfig, 'proxyProtocol' | 'sourceNat46Prefix' | 'address'>;
  readonly route?: Pick<RouteConfig, 'proxyProtocol' | 'sourceNat46Prefix'> | undefined;
  readonly client: EffectiveClient;
  /** The name the client asked for (TLS SNI, HTTP Host without port): PP2_TYPE_AUTHORITY. */
  readonly authority?: string | null;
  /**
   * The application protocol when known. For passthrough only the offer is known; pass it when the
   * client offered exactly one protocol (the only one that can be negotiated).
   */
  readonly alpn?: string;
  /** backends.allow check for an IPv6 client that would keep its own address as the NAT46 source. */
  readonly policy: Pick<AddressPolicy, 'isAllowed'>;
}

export function clientSource(input: ClientSourceInput): ClientSource {
  const { listener, route, client } = input;
  const proxyProtocol = route?.proxyProtocol ?? listener.proxyProtocol;
  const header =
    proxyProtocol === 'none'
      ? null
      : encodeProxyHeader(proxyProtocol, { address: client.address, port: client.port }, client.local, {
          ...ipv4Destination(listener.address),
          ...(input.authority === undefined || input.authority === null
            ? {}
            : { authority: input.authority }),
          ...(input.alpn === undefined ? {} : { alpn: input.alpn }),
        });
  const routePrefix = route?.sourceNat46Prefix;
  const prefix = routePrefix === false ? undefined : (routePrefix ?? listener.sourceNat46Prefix);
  if (prefix === undefined) return { proxyProtocol, header, dial: {} };
  const localAddress = nat46LocalAddress(prefix, client.address, (a) => input.policy.isAllowed(a));
  return {
    proxyProtocol,
    header,
    nat46Prefix: prefix,
    dial: localAddress === undefined ? {} : { localAddress, createSocket: createNat46Socket },
  };
}

/** A listener bound to one IPv4 address names it as the PROXY destination when the client's is IPv6. */
function ipv4Destination(listenerAddress: string): { ipv4Destination?: string } {
  const bound = parseHostPort(listenerAddress);
  return bound !== null && bound.family === 4 && bound.host !== '0.0.0.0'
    ? { ipv4Destination: bound.host }
    : {};
}
