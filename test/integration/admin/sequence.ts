/**
 * A known sequence of connections whose metrics are exact: crafted ClientHellos followed by known
 * payloads to plain TCP backends on [::1], so every byte count is known in advance.
 *   ok        ok.example → backend A: client sends hello + "ping", backend answers "pong!" and ends
 *   no_route  nope.example (no route)
 *   blocked   blocked.example → blocked.c2.example, whose AAAA lies outside backends.allow (DNS miss)
 *   reset     reset.example → backend B: answers "hi", then the client resets
 *   blocked   again (DNS hit)
 *   resolve_failed ×2  gone.example → gone.c2.example: NXDOMAIN (DNS error, then negative-cache hit)
 */
import type { Socket } from 'node:net';
import type { Test } from 'tap';
import type { DnsmasqOptions } from '../../helpers/dnsmasq.js';
import {
  helloFor,
  readAll,
  readBytes,
  startTcpBackend,
  tcpConnect,
  type PromText,
  type TcpBackend,
} from '../../helpers/ops.js';

export const ZONE = 'c2.example';
export const DNS_RECORDS: DnsmasqOptions['records'] = [
  { name: `blocked.${ZONE}`, aaaa: ['2001:db8:dead::1'], ttl: 300 },
];

export interface Backends {
  readonly ok: TcpBackend;
  readonly reset: TcpBackend;
}

export async function startBackends(t: Test): Promise<Backends> {
  const okHello = helloFor('ok.example').length;
  const resetHello = helloFor('reset.example').length;
  const ok = await startTcpBackend(t, (socket) => {
    void readBytes(socket, okHello + 4).then(() => socket.end('pong!'));
  });
  const reset = await startTcpBackend(t, (socket) => {
    void readBytes(socket, resetHello).then(() => socket.write('hi'));
  });
  return { ok, reset };
}

/** Routes for the sequence (YAML-able objects). */
export function routes(b: Backends): { host: string; target: string; port?: number }[] {
  return [
    { host: 'ok.example', target: `[::1]:${b.ok.port}` },
    { host: 'reset.example', target: `[::1]:${b.reset.port}` },
    { host: 'blocked.example', target: `blocked.${ZONE}`, port: 443 },
    { host: 'gone.example', target: `gone.${ZONE}`, port: 443 },
  ];
}

export interface Rig {
  readonly port: number;
  /** Resolves with the n-th (0-based, counted from the start) `connection closed` record. */
  closed(n: number): Promise<Record<string, unknown>>;
}

/** Runs the sequence; each step waits for its `connection closed` line, so the order is fixed. */
export async function runSequence(t: Test, rig: Rig): Promise<void> {
  let n = 0;
  const expectClosed = async (sni: string, outcome: string): Promise<void> => {
    const record = await rig.closed(n++);
    t.match(record, { sni, outcome }, `${sni}: ${outcome}`);
  };

  const ok = await tcpConnect(rig.port);
  ok.write(Buffer.concat([helloFor('ok.example'), Buffer.from('ping')]));
  t.equal((await readBytes(ok, 5)).toString(), 'pong!');
  t.equal((await readAll(ok)).length, 0, 'backend ended after pong!');
  ok.end();
  await expectClosed('ok.example', 'ok');

  await refused(rig.port, 'nope.example');
  await expectClosed('nope.example', 'no_route');

  await refused(rig.port, 'blocked.example');
  await expectClosed('blocked.example', 'blocked');

  const reset = await tcpConnect(rig.port);
  reset.write(helloFor('reset.example'));
  t.equal((await readBytes(reset, 2)).toString(), 'hi');
  reset.resetAndDestroy();
  await expectClosed('reset.example', 'reset');

  await refused(rig.port, 'blocked.example');
  await expectClosed('blocked.example', 'blocked');

  await refused(rig.port, 'gone.example');
  await expectClosed('gone.example', 'resolve_failed');
  await refused(rig.port, 'gone.example');
  await expectClosed('gone.example', 'resolve_failed');
}

/** Sends a hello that edge46 refuses and reads until it closes. */
async function refused(port: number, sni: string): Promise<void> {
  const socket: Socket = await tcpConnect(port);
  socket.write(helloFor(sni));
  await readAll(socket);
}

/**
 * The exact values the sequence produces on listener `listener`. `dnsPerWorker`: with several workers
 * each has its own DNS cache, so only totals per name are fixed (checked separately).
 */
export function checkMetrics(t: Test, m: PromText, listener: string, opts: { singleCache: boolean }): void {
  t.same(
    m.series('edge46_connections_total'),
    {
      [`listener=${listener},outcome=ok`]: 1,
      [`listener=${listener},outcome=no_route`]: 1,
      [`listener=${listener},outcome=blocked`]: 2,
      [`listener=${listener},outcome=reset`]: 1,
      [`listener=${listener},outcome=resolve_failed`]: 2,
    },
    'connections by outcome',
  );
  t.same(
    m.series('edge46_route_connections_total'),
    {
      'outcome=ok,route=ok.example': 1,
      'outcome=blocked,route=blocked.example': 2,
      'outcome=reset,route=reset.example': 1,
      'outcome=resolve_failed,route=gone.example': 2,
    },
    'connections by configured route pattern',
  );
  t.same(
    m.series('edge46_bytes_total'),
    {
      [`direction=to_backend,listener=${listener}`]:
        helloFor('ok.example').length + 4 + helloFor('reset.example').length,
      [`direction=to_client,listener=${listener}`]: 5 + 2,
    },
    'bytes both ways',
  );
  t.same(m.series('edge46_connections_active'), { [`listener=${listener}`]: 0 }, 'nothing open');
  const histograms: [string, number][] = [
    ['edge46_sniff_duration_seconds', 7],
    ['edge46_resolve_duration_seconds', 2],
    ['edge46_upstream_connect_duration_seconds', 2],
    ['edge46_connection_duration_seconds', 7],
  ];
  for (const [name, count] of histograms) {
    t.equal(m.get(`${name}_count`, { listener }), count, `${name} count`);
    t.equal(m.get(`${name}_bucket`, { listener, le: '+Inf' }), count, `${name} +Inf bucket`);
    t.ok((m.get(`${name}_sum`, { listener }) ?? -1) >= 0, `${name} sum`);
  }
  t.same(m.series('edge46_http_requests_total'), {}, 'no HTTP requests');
  t.equal(m.get('edge46_config_reloads_total', { result: 'success' }), 0);
  t.equal(m.get('edge46_config_reloads_total', { result: 'failure' }), 0);
  const dns = m.series('edge46_dns_lookups_total');
  if (opts.singleCache) {
    t.same(dns, {
      'result=hit': 1,
      'result=miss': 1,
      'result=stale': 0,
      'result=negative': 1,
      'result=error': 1,
    });
    t.equal(m.get('edge46_dns_cache_entries'), 2, 'blocked.c2.example and the negative gone.c2.example');
  } else {
    // Each worker has its own cache: which lookup hits depends on which worker got the connection.
    t.equal((dns['result=hit'] ?? 0) + (dns['result=miss'] ?? 0), 2, 'blocked.c2.example looked up twice');
    t.ok((dns['result=miss'] ?? 0) >= 1, 'the first lookup of blocked.c2.example missed');
    t.equal((dns['result=negative'] ?? 0) + (dns['result=error'] ?? 0), 2, 'gone.c2.example looked up twice');
    t.ok((dns['result=error'] ?? 0) >= 1, 'the first lookup of gone.c2.example failed');
    t.equal(dns['result=stale'], 0);
    const entries = m.get('edge46_dns_cache_entries') ?? 0;
    t.ok(entries >= 2 && entries <= 4, `cache entries summed over workers (${entries})`);
  }
}
