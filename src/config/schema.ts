/**
 * The configuration schema: one source for validation, defaults and documentation (STYLE.md §5).
 * docs/config.md is generated from the descriptions here (scripts/gen-docs.ts); a test fails when
 * the generated file drifts. Cross-field rules (unique names, literal targets inside the allowlist) live
 * in validate.ts so that every problem is reported at once, each with its path.
 */
import { z } from 'zod';
import { listenerClientAddressFields, routeClientAddressFields } from './client-address-schema.js';
import { routeTlsFields, tlsSchema } from './tls-schema.js';

const port = z.int().min(1).max(65535);
const positiveMs = z.int().positive();

export const listenerSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/i, 'letters, digits, "-" and "_" only')
      .describe('Unique name; appears in logs and metrics.'),
    address: z
      .string()
      .describe(
        '"0.0.0.0:443" (IPv4), "[::]:443" (dual-stack), "[2001:db8::1]:443" (one address). Port 0 picks a free port.',
      ),
    protocol: z
      .enum(['tls', 'http'])
      .describe(
        'tls: routed by the ClientHello SNI. http: plain HTTP/1.1, every request routed by its Host.',
      ),
    backendPort: port
      .optional()
      .describe(
        "Port dialled on the backend. Default: this listener's own port. A route's `port` overrides it.",
      ),
    defaultHost: z
      .string()
      .optional()
      .describe('Name routed when a ClientHello carries no SNI. Without it such clients are refused.'),
    sniffTimeoutMs: positiveMs
      .default(10_000)
      .describe('The whole ClientHello must arrive within this (slowloris bound).'),
    maxHelloBytes: z.int().min(512).max(1_048_576).default(65_536).describe('Largest ClientHello accepted.'),
    maxConnections: z
      .int()
      .positive()
      .default(10_000)
      .describe('Open client connections above this are closed at once.'),
    ...listenerClientAddressFields,
  })
  .describe('A socket edge46 accepts clients on.');

export const routeSchema = z
  .strictObject({
    host: z
      .string()
      .describe(
        '"name.example" (exact), "*.suffix" (one or more labels before .suffix) or "*" (everything).',
      ),
    target: z
      .string()
      .describe(
        '"{host}" (the requested name), a name template with "{sub}" (the labels matched by *), a fixed name, or a literal "[2001:db8::5]:8443".',
      ),
    port: port.optional().describe("Backend port for this route; overrides the listener's backendPort."),
    ...routeClientAddressFields,
    ...routeTlsFields,
    forwardedHeaders: z
      .boolean()
      .optional()
      .describe(
        "http listeners: set X-Forwarded-For/-Proto/-Host and Forwarded (default true). false: pass the client's own (if any) untouched.",
      ),
  })
  .describe('Maps a requested name to the backend name whose AAAA records are dialled.');

export const httpSchema = z
  .strictObject({
    headersTimeoutMs: positiveMs
      .default(10_000)
      .describe('The request head must arrive within this (slowloris bound); 408 after it.'),
    requestTimeoutMs: z
      .int()
      .min(0)
      .default(300_000)
      .describe('The whole request, head and body, must arrive within this; 408 after it. 0 disables.'),
    keepAliveTimeoutMs: z
      .int()
      .min(0)
      .default(5_000)
      .describe('An idle client keep-alive connection is closed after this. 0 disables.'),
    maxHeaderSize: z
      .int()
      .min(1_024)
      .max(1_048_576)
      .default(16_384)
      .describe('Largest request head (request line and headers) in bytes; 431 above it.'),
    maxRequestsPerConnection: z
      .int()
      .min(0)
      .default(1_000)
      .describe('Requests served on one client connection before it is closed. 0: no limit.'),
    trustedProxies: z
      .array(z.string())
      .default([])
      .describe(
        'CIDRs (IPv4 or IPv6) of clients whose X-Forwarded-* and Forwarded headers are kept and appended to; from anyone else they are replaced.',
      ),
    upstream: z
      .strictObject({
        connections: z
          .int()
          .positive()
          .default(64)
          .describe('Connections per backend pool (one pool per backend name or address and port).'),
        keepAliveTimeoutMs: positiveMs
          .default(4_000)
          .describe("An idle pooled backend connection is closed after this (or the backend's hint)."),
        headersTimeoutMs: positiveMs
          .default(60_000)
          .describe('The backend must send its response head within this after the request; 504 after it.'),
        bodyTimeoutMs: z
          .int()
          .min(0)
          .default(300_000)
          .describe('A response body silent this long is cut off (client connection closed). 0 disables.'),
      })
      .prefault({})
      .describe('The backend side of http listeners.'),
  })
  .prefault({})
  .describe('Options of http listeners (plain HTTP/1.1 reverse proxy).');

export const configSchema = z
  .strictObject({
    listeners: z.array(listenerSchema).min(1).describe('Where edge46 accepts clients.'),
    timeouts: z
      .strictObject({
        connectMs: positiveMs
          .default(5_000)
          .describe('Backend connect attempts (all addresses together) give up after this.'),
        attemptDelayMs: positiveMs
          .default(250)
          .describe('RFC 8305 connection attempt delay: the next AAAA address is tried after this.'),
        idleMs: z
          .int()
          .min(0)
          .default(300_000)
          .describe('A connection silent both ways this long is closed. 0 disables.'),
      })
      .prefault({})
      .describe('Timeouts for the backend side and established connections.'),
    pipe: z
      .strictObject({
        engine: z
          .enum(['auto', 'js', 'splice'])
          .default('auto')
          .describe(
            'How established pairs move bytes. splice: kernel splice(2) on native worker threads (Linux, needs the addon built at install); js: in Node. auto: splice when the addon loads, else js. An explicit splice that cannot load fails the start. Changes need a restart.',
          ),
        threads: z
          .int()
          .min(1)
          .max(64)
          .default(1)
          .describe(
            'Worker threads of the splice engine (pairs are spread round-robin). Changes need a restart.',
          ),
      })
      .prefault({})
      .describe('The byte-moving core for passthrough connections and upgraded HTTP connections.'),
    resolver: z
      .strictObject({
        servers: z
          .array(z.string())
          .optional()
          .describe('DNS servers ("[2001:db8::53]:53", "192.0.2.53"). Default: the system resolvers.'),
        timeoutMs: positiveMs.default(2_000).describe('Per-query timeout.'),
        attempts: z.int().min(1).max(10).default(2).describe('Tries per server.'),
        minTtlSeconds: z.int().min(0).default(5).describe('Record TTLs are clamped into [min, max].'),
        maxTtlSeconds: z.int().min(1).default(300).describe('Record TTLs are clamped into [min, max].'),
        negativeTtlSeconds: z
          .int()
          .min(0)
          .default(10)
          .describe('NXDOMAIN and no-AAAA answers are cached this long.'),
        staleSeconds: z
          .int()
          .min(0)
          .default(300)
          .describe('An expired answer is still served this long while the resolvers fail.'),
      })
      .prefault({})
      .describe('How backend names are resolved: AAAA records only, never A.'),
    backends: z
      .strictObject({
        allow: z
          .array(z.string())
          .default(['2000::/3'])
          .describe(
            'The only IPv6 prefixes ever dialled. Loopback and link-local only when named explicitly (e.g. "::1/128").',
          ),
        deny: z
          .array(z.string())
          .default([
            '2001::/23', // IETF protocol assignments (Teredo, ORCHID, benchmarking …), RFC 2928
            '2001:db8::/32', // documentation, RFC 3849
            '2002::/16', // 6to4, RFC 3056
            '3fff::/20', // documentation, RFC 9637
          ])
          .describe(
            'Prefixes never dialled even when inside allow. Default: special-purpose ranges inside 2000::/3.',
          ),
      })
      .prefault({})
      .describe('Which resolved addresses may be dialled (no open proxy, no SSRF).'),
    http: httpSchema,
    tls: tlsSchema,
    routes: z
      .array(routeSchema)
      .default([])
      .describe('Exact names beat wildcards; the longest wildcard suffix wins.'),
    admin: z
      .strictObject({
        address: z
          .string()
          .default('127.0.0.1:9646')
          .describe(
            'Where the admin HTTP server listens (/metrics, /healthz, /readyz, /routes, status page at /). Never a proxy listener address; keep it on loopback or a management network.',
          ),
      })
      .prefault({})
      .describe('The admin server: Prometheus metrics, health, readiness, route table and a status page.'),
    drain: z
      .strictObject({
        announceSeconds: z
          .number()
          .min(0)
          .max(3600)
          .default(5)
          .describe(
            'After SIGTERM, /readyz fails at once but new connections are still accepted this long, so load balancers and the kubelet notice.',
          ),
        timeoutSeconds: z
          .number()
          .min(0)
          .max(86_400)
          .default(30)
          .describe(
            'Then listeners close and open connections get this long to finish before they are reset and edge46 exits 0.',
          ),
      })
      .prefault({})
      .describe('Graceful shutdown on SIGTERM. A second SIGTERM or SIGINT exits at once.'),
    workers: z
      .union([z.enum(['auto']), z.int().min(1).max(512)])
      .default('auto')
      .describe(
        'Worker processes sharing the listeners (node:cluster). auto: one per available CPU (cgroup CPU limit respected). 1: a single process. Changes need a restart.',
      ),
    log: z
      .strictObject({
        level: z
          .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
          .default('info')
          .describe('pino log level; --log-level overrides it.'),
        format: z
          .enum(['auto', 'json', 'pretty'])
          .default('auto')
          .describe('auto: pretty when stdout is a terminal, JSON lines otherwise.'),
      })
      .prefault({})
      .describe('Logging.'),
  })
  .describe('edge46 configuration.');

/** The file as written (defaults not yet applied). */
export type ConfigInput = z.input<typeof configSchema>;
/** The validated, defaulted configuration. */
export type Config = z.output<typeof configSchema>;
export type ListenerConfig = Config['listeners'][number];
export type RouteConfig = Config['routes'][number];
export type HttpConfig = Config['http'];
