/**
 * Config keys that carry the client's IPv4 address to the IPv6 backend (PROXY protocol out, NAT46
 * source addresses) and that say who the client is (NAT64 prefixes, PROXY protocol in). Spread into the
 * listener and route schemas in schema.ts; cross-field rules are in client-address-check.ts.
 */
import { z } from 'zod';

const proxyProtocol = z.enum(['none', 'v1', 'v2']);

export const listenerClientAddressFields = {
  proxyProtocol: proxyProtocol
    .default('none')
    .describe(
      'Default for routes reached through this listener: send a PROXY protocol header (haproxy proxy-protocol.txt) to the backend before any other byte. v2 carries PP2_TYPE_AUTHORITY (the SNI) and PP2_TYPE_ALPN (when the client offered exactly one protocol). An IPv4 client is always sent as TCP4. On http listeners it means one backend connection per client connection.',
    ),
  sourceNat46Prefix: z
    .string()
    .optional()
    .describe(
      'Default for routes reached through this listener: dial the backend from this /96 with the client\'s IPv4 address in the low 32 bits (e.g. "64:ff9b:1::/96", RFC 8215). Needs `ip -6 route add local PREFIX dev lo` on the edge, the native addon (IP_FREEBIND) or net.ipv6.ip_nonlocal_bind=1, and a route back on the backend side; checked at start-up. IPv6 clients keep their own address only if it lies in backends.allow, else the edge\'s.',
    ),
  clientNat64Prefixes: z
    .array(z.string())
    .default([])
    .describe(
      'RFC 6052 prefixes (lengths 32, 40, 48, 56, 64, 96) of an upstream NAT64/SIIT translator: a client address inside one counts as the IPv4 address it embeds (logs, forwarding headers, PROXY headers, NAT46 sources).',
    ),
  acceptProxyProtocol: z
    .boolean()
    .default(false)
    .describe(
      "Clients are load balancers that send a PROXY protocol header (v1 or v2) first; the address in it counts as the client's everywhere. Connections from peers outside trustedProxies, and connections without a valid header, are closed.",
    ),
  trustedProxies: z
    .array(z.string())
    .default([])
    .describe(
      'CIDRs (IPv4 or IPv6) of the load balancers allowed to send PROXY headers (acceptProxyProtocol).',
    ),
};

export const routeClientAddressFields = {
  proxyProtocol: proxyProtocol.optional().describe("Overrides the listener's proxyProtocol for this route."),
  sourceNat46Prefix: z
    .union([z.string(), z.literal(false)])
    .optional()
    .describe(
      "Overrides the listener's sourceNat46Prefix for this route; false: dial from the edge's own address.",
    ),
};
