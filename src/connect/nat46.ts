/**
 * NAT46 source addresses: with `sourceNat46Prefix: "64:ff9b:1::/96"` edge46 dials the backend from the
 * prefix with the client's IPv4 address in the low 32 bits (RFC 6052 §2.2 at /96; the RFC 8215 local-use
 * prefix 64:ff9b:1::/48 is the recommended home), as the Go proxy snid does, so an IPv6-only backend sees
 * 64:ff9b:1::c000:20a for client 192.0.2.10.
 *
 * What the host needs (found on Debian 12, see shared/notes/testbed.md):
 * - the prefix made local: `ip -6 route add local PREFIX dev lo` (else replies to it never come back);
 * - a socket allowed to bind a non-configured address: IP_FREEBIND set by the native addon
 *   (connect/freebind.ts; no privilege needed), or else `net.ipv6.ip_nonlocal_bind=1` in the namespace
 *   (not on kubelet's safe-sysctl list, hence only the fall-back). A plain bind fails with EADDRNOTAVAIL.
 * - on the backend side, a route for the prefix back to the edge.
 * `checkNat46Bind` proves all of the edge's part at start-up with one real connection over loopback and
 * says which piece is missing.
 */
import { readFileSync } from 'node:fs';
import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { embedIpv4, parseNat64Prefix, type Nat64Prefix, type PrefixParse } from '../accept/nat64.js';
import { errnoCode, errorMessage } from '../errors.js';
import { ipFamily, unmapIpv4 } from '../ip.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observe/logger.js';
import { loadNative, nativeLoadError } from '../pipe/native.js';
import { createFreebindSocket } from './freebind.js';

export type Nat46Prefix = Nat64Prefix;

/** A NAT46 source prefix must be a /96 (the whole IPv4 address space in its low 32 bits). */
export function parseNat46Prefix(text: string): PrefixParse {
  return parseNat64Prefix(text, [96]);
}

/** prefix + IPv4 in the low 32 bits, canonical text (e.g. 64:ff9b:1::c000:20a). */
export function nat46SourceAddress(prefix: Nat46Prefix | string, clientIpv4: string): string {
  return embedIpv4(prefix, clientIpv4);
}

/**
 * The local address to dial from for `client` (its effective address: IPv4, or IPv6 on a dual-stack
 * listener), or undefined for the edge's own address:
 * - an IPv4 client (IPv4-mapped text too) → the NAT46 source in `prefix`;
 * - an IPv6 client keeps its own address only when `mayUse` says so (the caller checks backends.allow),
 *   else undefined.
 */
export function nat46LocalAddress(
  prefix: Nat46Prefix | string,
  client: string,
  mayUse: (ipv6: string) => boolean,
): string | undefined {
  const v4 = ipFamily(client) === 4 ? client : unmapIpv4(client);
  if (v4 !== null) return nat46SourceAddress(prefix, v4);
  if (ipFamily(client) === 6 && mayUse(client)) return client;
  return undefined;
}

export type Nat46Method = 'freebind' | 'nonlocal-bind';

/**
 * A fresh IPv6 TCP socket that may bind inside the prefix: IP_FREEBIND when the addon loads, else a
 * plain socket (which binds only with net.ipv6.ip_nonlocal_bind=1, as checkNat46Bind verified).
 */
export function createNat46Socket(): Socket {
  return createFreebindSocket(6) ?? new Socket({ allowHalfOpen: true });
}

export function nat46Method(): Nat46Method {
  return loadNative() === null ? 'nonlocal-bind' : 'freebind';
}

export type Nat46Check =
  | { readonly ok: true; readonly method: Nat46Method; readonly probe: string }
  | { readonly ok: false; readonly message: string };

export interface Nat46CheckOptions {
  /** How long the loopback connection may take; a missing local route shows as a timeout. */
  readonly timeoutMs?: number;
  /** Test hook: the socket to probe with (default createNat46Socket). */
  readonly createSocket?: () => Socket;
  /** Test hook: the method reported and named in messages (default from the addon's presence). */
  readonly method?: Nat46Method;
}

/**
 * Proves that a connection from inside `prefix` works on this host: connects to a throw-away server on
 * [::1] from prefix::1 (0.0.0.1 embedded) and checks that the server saw that address. Resolves with
 * the method in use, or with a message that names the missing piece (route, sysctl, addon).
 */
export async function checkNat46Bind(prefix: string, opts: Nat46CheckOptions = {}): Promise<Nat46Check> {
  const parsed = parseNat46Prefix(prefix);
  if (!parsed.ok) return { ok: false, message: `sourceNat46Prefix ${parsed.reason}` };
  const p = parsed.prefix.text;
  const probe = nat46SourceAddress(parsed.prefix, '0.0.0.1');
  const method = opts.method ?? nat46Method();
  const timeoutMs = opts.timeoutMs ?? 1_000;
  const routeHint = `make the prefix local on this host: \`ip -6 route add local ${p} dev lo\``;

  let server: Server;
  try {
    server = await listenLoopback();
  } catch (err) {
    return {
      ok: false,
      message: `sourceNat46Prefix ${p}: cannot probe, no listener on [::1] (${errorMessage(err)}); NAT46 needs IPv6 on lo`,
    };
  }
  try {
    const port = (server.address() as AddressInfo).port;
    const seen = new Promise<string>((resolve) =>
      server.once('connection', (s: Socket) => {
        resolve(s.remoteAddress ?? '');
        s.on('error', () => {});
        s.destroy();
      }),
    );
    const socket = (opts.createSocket ?? createNat46Socket)();
    const outcome = await connectWithin(socket, port, probe, timeoutMs);
    if (outcome.ok) {
      // The kernel completed the handshake, so the accept is already queued; the bound is belt and braces.
      const remote = await Promise.race([seen, delay(timeoutMs, 'no connection event')]);
      if (remote !== probe) {
        return { ok: false, message: `sourceNat46Prefix ${p}: probe from ${probe} arrived as ${remote}` };
      }
      return { ok: true, method, probe };
    }
    const { code, syscall } = outcome;
    if (code === 'EADDRNOTAVAIL' && syscall === 'bind') {
      return { ok: false, message: bindMessage(p, probe, method) };
    }
    const what =
      code === 'ETIMEDOUT'
        ? `no answer within ${timeoutMs} ms`
        : `${syscall ?? 'connect'} failed with ${code}`;
    return {
      ok: false,
      message: `sourceNat46Prefix ${p}: a connection from ${probe} to [::1] got ${what}; ${routeHint}`,
    };
  } finally {
    server.close();
  }
}

function bindMessage(prefix: string, probe: string, method: Nat46Method): string {
  if (method === 'freebind') {
    return `sourceNat46Prefix ${prefix}: bind to ${probe} failed with EADDRNOTAVAIL even with IP_FREEBIND`;
  }
  const sysctl = readNonlocalBind();
  return (
    `sourceNat46Prefix ${prefix}: cannot bind ${probe} (EADDRNOTAVAIL): the native addon that sets IP_FREEBIND ` +
    `is unavailable (${nativeLoadError() ?? 'not loaded'}) and net.ipv6.ip_nonlocal_bind is ${sysctl}; ` +
    'build the addon (`node scripts/build-native.mjs`) or set `sysctl -w net.ipv6.ip_nonlocal_bind=1`'
  );
}

function delay(ms: number, value: string): Promise<string> {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms).unref());
}

function readNonlocalBind(): string {
  try {
    return readFileSync('/proc/sys/net/ipv6/ip_nonlocal_bind', 'utf8').trim();
  } catch {
    return 'unreadable';
  }
}

function listenLoopback(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '::1', port: 0, ipv6Only: true }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

type ConnectOutcome = { ok: true } | { ok: false; code: string; syscall?: string };

function connectWithin(
  socket: Socket,
  port: number,
  localAddress: string,
  timeoutMs: number,
): Promise<ConnectOutcome> {
  return new Promise((resolve) => {
    const done = (outcome: ConnectOutcome): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => done({ ok: false, code: 'ETIMEDOUT' }), timeoutMs);
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done({
        ok: false,
        code: errnoCode(err) ?? err.message,
        ...(err.syscall === undefined ? {} : { syscall: err.syscall }),
      }),
    );
    socket.once('connect', () => done({ ok: true }));
    try {
      socket.connect({ host: '::1', port, family: 6, localAddress });
    } catch (err) {
      done({ ok: false, code: errnoCode(err) ?? errorMessage(err) });
    }
  });
}

/** The distinct, valid NAT46 prefixes a config uses (listeners and routes), canonical text. */
export function nat46Prefixes(config: Config): string[] {
  const texts = [
    ...config.listeners.map((l) => l.sourceNat46Prefix),
    ...config.routes.map((r) => r.sourceNat46Prefix),
  ].filter((p): p is string => typeof p === 'string');
  const out = new Set<string>();
  for (const text of texts) {
    const parsed = parseNat46Prefix(text);
    if (parsed.ok) out.add(parsed.prefix.text);
  }
  return [...out];
}

/**
 * Start-up gate: probes every NAT46 prefix the config uses and throws one Error listing each failure
 * (the message names the missing route, sysctl or addon). Resolves with the method per prefix.
 */
export async function requireNat46(
  config: Config,
  opts: Nat46CheckOptions = {},
): Promise<Map<string, Nat46Method>> {
  const methods = new Map<string, Nat46Method>();
  const failures: string[] = [];
  for (const prefix of nat46Prefixes(config)) {
    const check = await checkNat46Bind(prefix, opts);
    if (check.ok) methods.set(prefix, check.method);
    else failures.push(check.message);
  }
  if (failures.length > 0) throw new Error(`NAT46 source addresses unusable:\n  ${failures.join('\n  ')}`);
  return methods;
}

/** requireNat46, logging the method in use per prefix; a no-op for configs without NAT46. */
export async function checkNat46AtStart(config: Config, log: Logger): Promise<void> {
  const methods = await requireNat46(config);
  for (const [prefix, method] of methods)
    log.info({ prefix, method }, `NAT46 source prefix ${prefix} usable (${method})`);
}
