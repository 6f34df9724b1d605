/**
 * Every metric edge46 exports, declared here and nowhere else (STYLE.md §1 observe/).
 *
 * Label values never come from the wire: listener names, outcomes, directions, DNS results and
 * configured route patterns are all bounded by the configuration; host names are not labels.
 *
 * One Metrics instance per App (its own prom-client Registry), so that in-process tests see exact
 * values. Gauges of live state (open connections, bytes of open pipes, DNS cache size) are read at
 * scrape time through a LiveSource, costing the data path nothing. In cluster mode each worker's
 * registry is sent to the primary, which merges them with AggregatorRegistry (see cluster/primary.ts).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Outcome } from '../errors.js';
import { RecentErrors } from './recent-errors.js';

export type Direction = 'to_backend' | 'to_client';
export type DnsLookupResult = 'hit' | 'miss' | 'stale' | 'negative' | 'error';
export type ReloadResult = 'success' | 'failure';

/** What the data path reports once per connection, at the point it writes its `connection closed` line. */
export interface ConnectionEvent {
  readonly listener: string;
  readonly outcome: Outcome;
  /** Error code for a failed connection (`EDGE_NO_ROUTE`, …). */
  readonly code?: string | undefined;
  /** Human message for a failed connection; kept for the status page, never a label. */
  readonly reason?: string | undefined;
  readonly sni?: string | null | undefined;
  /** The configured pattern of the route that matched. */
  readonly route?: string | undefined;
  readonly bytesToBackend: number;
  readonly bytesToClient: number;
  /** Phase durations in milliseconds (ConnectionContext.timings); absent phases were not reached. */
  readonly timings: {
    readonly sniff?: number;
    readonly resolve?: number;
    readonly connect?: number;
    readonly total?: number;
  };
}

/** Live values read at scrape time. */
export interface LiveSource {
  /** Open connections per listener, including listeners with none open. */
  activeConnections(): ReadonlyMap<string, number>;
  /** Bytes moved so far by pipes that are still open, per listener. */
  liveBytes(): ReadonlyMap<string, { readonly toBackend: number; readonly toClient: number }>;
  dnsCacheEntries(): number;
}

export interface MetricsOptions {
  /** Process and Node metrics (prom-client's default set). Default true. */
  readonly defaultMetrics?: boolean;
}

// Seconds. Sniffing is usually one RTT; connects are one RTT plus staggered attempts.
const FAST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const CONNECTION_BUCKETS = [0.01, 0.1, 1, 10, 60, 300, 900, 3600, 14_400];

export class Metrics {
  readonly registry = new Registry();
  /** The last failed connections, for the status page. */
  readonly recentErrors = new RecentErrors(50);
  private live: LiveSource | null = null;
  /** Bytes of connections that have closed, per "listener\0direction"; live bytes are added at scrape. */
  private readonly closedBytes = new Map<string, number>();
  /** What the last scrape reported, per key (the floor for the next one). */
  private readonly reportedBytes = new Map<string, number>();

  readonly connectionsTotal: Counter<'listener' | 'outcome'>;
  readonly connectionsActive: Gauge<'listener'>;
  readonly bytesTotal: Counter<'listener' | 'direction'>;
  readonly routeConnectionsTotal: Counter<'route' | 'outcome'>;
  readonly sniffDuration: Histogram<'listener'>;
  readonly resolveDuration: Histogram<'listener'>;
  readonly upstreamConnectDuration: Histogram<'listener'>;
  readonly connectionDuration: Histogram<'listener'>;
  readonly httpRequestsTotal: Counter<'listener' | 'code'>;
  readonly httpRequestDuration: Histogram<'listener'>;
  readonly dnsLookupsTotal: Counter<'result'>;
  readonly dnsCacheEntries: Gauge;
  readonly configReloadsTotal: Counter<'result'>;
  readonly workerRestartsTotal: Counter;
  readonly workers: Gauge<'state'>;
  readonly draining: Gauge;
  readonly pipeEngineInfo: Gauge<'engine'>;

  constructor(opts: MetricsOptions = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- collect() callbacks run with prom-client's `this`
    const self = this;

    this.connectionsTotal = new Counter({
      name: 'edge46_connections_total',
      help: 'Client connections that ended, by listener and outcome (ok, no_route, blocked, reset, …).',
      labelNames: ['listener', 'outcome'],
      registers,
    });
    this.connectionsActive = new Gauge({
      name: 'edge46_connections_active',
      help: 'Client connections open now, by listener.',
      labelNames: ['listener'],
      registers,
      collect() {
        if (self.live === null) return;
        this.reset();
        for (const [listener, open] of self.live.activeConnections()) this.set({ listener }, open);
      },
    });
    this.bytesTotal = new Counter({
      name: 'edge46_bytes_total',
      help: 'Bytes forwarded, by listener and direction (to_backend, to_client); open connections included.',
      labelNames: ['listener', 'direction'],
      registers,
      collect() {
        const totals = new Map(self.closedBytes);
        for (const [listener, bytes] of self.live?.liveBytes() ?? []) {
          addTo(totals, bytesKey(listener, 'to_backend'), bytes.toBackend);
          addTo(totals, bytesKey(listener, 'to_client'), bytes.toClient);
        }
        this.reset();
        for (const [key, value] of totals) {
          // Between a pipe leaving liveBytes() and its totals arriving in connectionClosed() a scrape
          // can see less than before; a counter must never go back.
          const reported = Math.max(value, self.reportedBytes.get(key) ?? 0);
          self.reportedBytes.set(key, reported);
          const [listener = '', direction = ''] = key.split('\0');
          this.inc({ listener, direction }, reported);
        }
      },
    });
    this.routeConnectionsTotal = new Counter({
      name: 'edge46_route_connections_total',
      help: 'Connections that matched a route, by the route as configured (its host pattern) and outcome.',
      labelNames: ['route', 'outcome'],
      registers,
    });
    this.sniffDuration = new Histogram({
      name: 'edge46_sniff_duration_seconds',
      help: 'Time from accept until the ClientHello (or request head) was read, by listener.',
      labelNames: ['listener'],
      buckets: FAST_BUCKETS,
      registers,
    });
    this.resolveDuration = new Histogram({
      name: 'edge46_resolve_duration_seconds',
      help: 'Time to route and resolve the backend (AAAA, cache included), by listener.',
      labelNames: ['listener'],
      buckets: FAST_BUCKETS,
      registers,
    });
    this.upstreamConnectDuration = new Histogram({
      name: 'edge46_upstream_connect_duration_seconds',
      help: 'Time to establish the backend connection (all staggered attempts), successful connects only.',
      labelNames: ['listener'],
      buckets: FAST_BUCKETS,
      registers,
    });
    this.connectionDuration = new Histogram({
      name: 'edge46_connection_duration_seconds',
      help: 'Lifetime of client connections, accept to close, by listener.',
      labelNames: ['listener'],
      buckets: CONNECTION_BUCKETS,
      registers,
    });
    this.httpRequestsTotal = new Counter({
      name: 'edge46_http_requests_total',
      help: 'HTTP requests answered on http listeners, by listener and status code.',
      labelNames: ['listener', 'code'],
      registers,
    });
    this.httpRequestDuration = new Histogram({
      name: 'edge46_http_request_duration_seconds',
      help: 'HTTP request duration, request head received to response finished, by listener.',
      labelNames: ['listener'],
      buckets: HTTP_BUCKETS,
      registers,
    });
    this.dnsLookupsTotal = new Counter({
      name: 'edge46_dns_lookups_total',
      help: 'Backend name lookups by result: hit, miss, stale, negative (cached NXDOMAIN/no AAAA), error.',
      labelNames: ['result'],
      registers,
    });
    for (const result of ['hit', 'miss', 'stale', 'negative', 'error'] as const) {
      this.dnsLookupsTotal.inc({ result }, 0);
    }
    this.dnsCacheEntries = new Gauge({
      name: 'edge46_dns_cache_entries',
      help: 'Names in the AAAA cache (positive, stale and negative entries still in use).',
      registers,
      collect() {
        if (self.live !== null) this.set(self.live.dnsCacheEntries());
      },
    });
    this.configReloadsTotal = new Counter({
      name: 'edge46_config_reloads_total',
      help: 'Configuration reloads (SIGHUP or file change), by result: success or failure.',
      labelNames: ['result'],
      registers,
    });
    this.configReloadsTotal.inc({ result: 'success' }, 0);
    this.configReloadsTotal.inc({ result: 'failure' }, 0);
    this.workerRestartsTotal = new Counter({
      name: 'edge46_worker_restarts_total',
      help: 'Worker processes restarted after they died (cluster mode).',
      registers,
    });
    this.workers = new Gauge({
      name: 'edge46_workers',
      help: 'Worker processes by state (cluster mode; set by the primary): ready, starting.',
      labelNames: ['state'],
      registers,
      aggregator: 'max',
    });
    this.draining = new Gauge({
      name: 'edge46_draining',
      help: '1 while edge46 drains after SIGTERM (/readyz answers 503), else 0.',
      registers,
      aggregator: 'max',
    });
    this.draining.set(0);
    this.pipeEngineInfo = new Gauge({
      name: 'edge46_pipe_engine_info',
      help: 'The pipe engine moving established pairs (pipe.engine): 1 for the engine in use (js or splice).',
      labelNames: ['engine'],
      registers,
      aggregator: 'max',
    });
  }

  /** Connects the scrape-time gauges to the running listeners and resolver. */
  bindLive(source: LiveSource): void {
    this.live = source;
  }

  /** Called once per connection, where it writes its `connection closed` line. */
  connectionClosed(event: ConnectionEvent): void {
    const listener = event.listener;
    this.connectionsTotal.inc({ listener, outcome: event.outcome });
    if (event.route !== undefined)
      this.routeConnectionsTotal.inc({ route: event.route, outcome: event.outcome });
    addTo(this.closedBytes, bytesKey(listener, 'to_backend'), event.bytesToBackend);
    addTo(this.closedBytes, bytesKey(listener, 'to_client'), event.bytesToClient);
    const t = event.timings;
    if (t.sniff !== undefined) this.sniffDuration.observe({ listener }, t.sniff / 1000);
    if (t.resolve !== undefined) this.resolveDuration.observe({ listener }, t.resolve / 1000);
    if (t.connect !== undefined) this.upstreamConnectDuration.observe({ listener }, t.connect / 1000);
    if (t.total !== undefined) this.connectionDuration.observe({ listener }, t.total / 1000);
    if (event.outcome !== 'ok') this.recentErrors.add(event);
  }

  /**
   * Called once per HTTP request by the http listener path, where it writes its access log line.
   * `status` is the status sent to the client (or the one describeOutcome chose for a failure).
   */
  recordHttpRequest(listener: string, status: number, durationSeconds: number): void {
    this.httpRequestsTotal.inc({ listener, code: String(status) });
    this.httpRequestDuration.observe({ listener }, durationSeconds);
  }

  dnsLookup(result: DnsLookupResult): void {
    this.dnsLookupsTotal.inc({ result });
  }

  configReload(result: ReloadResult): void {
    this.configReloadsTotal.inc({ result });
  }

  /** Prometheus text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}

function bytesKey(listener: string, direction: Direction): string {
  return `${listener}\0${direction}`;
}

function addTo(map: Map<string, number>, key: string, value: number): void {
  map.set(key, (map.get(key) ?? 0) + value);
}
