import t from 'tap';
import { Metrics, type LiveSource } from '../../../src/observe/metrics.js';
import { RecentErrors } from '../../../src/observe/recent-errors.js';
import { PromText } from '../../helpers/ops.js';

const scrape = async (m: Metrics): Promise<PromText> => new PromText(await m.text());

t.test('a closed connection moves every connection metric exactly once', async (t) => {
  const m = new Metrics({ defaultMetrics: false });
  m.connectionClosed({
    listener: 'tls',
    outcome: 'ok',
    route: '*.example',
    sni: 'a.example',
    bytesToBackend: 100,
    bytesToClient: 2000,
    timings: { sniff: 1.5, resolve: 0.2, connect: 3, total: 40 },
  });
  m.connectionClosed({
    listener: 'tls',
    outcome: 'no_route',
    code: 'EDGE_NO_ROUTE',
    reason: 'no route for b.example',
    sni: 'b.example',
    bytesToBackend: 0,
    bytesToClient: 0,
    timings: { sniff: 2, total: 2.5 },
  });
  const p = await scrape(m);
  t.same(p.series('edge46_connections_total'), {
    'listener=tls,outcome=ok': 1,
    'listener=tls,outcome=no_route': 1,
  });
  t.same(
    p.series('edge46_route_connections_total'),
    { 'outcome=ok,route=*.example': 1 },
    'no route, no route label',
  );
  t.same(p.series('edge46_bytes_total'), {
    'direction=to_backend,listener=tls': 100,
    'direction=to_client,listener=tls': 2000,
  });
  t.equal(p.get('edge46_sniff_duration_seconds_count', { listener: 'tls' }), 2);
  t.equal(p.get('edge46_sniff_duration_seconds_sum', { listener: 'tls' }), 0.0035);
  t.equal(p.get('edge46_sniff_duration_seconds_bucket', { listener: 'tls', le: '0.001' }), 0);
  t.equal(p.get('edge46_sniff_duration_seconds_bucket', { listener: 'tls', le: '0.0025' }), 2);
  t.equal(p.get('edge46_resolve_duration_seconds_count', { listener: 'tls' }), 1);
  t.equal(p.get('edge46_upstream_connect_duration_seconds_count', { listener: 'tls' }), 1);
  t.equal(p.get('edge46_upstream_connect_duration_seconds_sum', { listener: 'tls' }), 0.003);
  t.equal(p.get('edge46_connection_duration_seconds_count', { listener: 'tls' }), 2);
  t.match(
    m.recentErrors.list(),
    [{ outcome: 'no_route', code: 'EDGE_NO_ROUTE', sni: 'b.example' }],
    'only failures kept',
  );
  t.equal(m.recentErrors.list().length, 1);
});

t.test('labels never carry names from the wire', async (t) => {
  const m = new Metrics({ defaultMetrics: false });
  m.connectionClosed({
    listener: 'tls',
    outcome: 'no_route',
    sni: 'random-1234.attacker.example',
    bytesToBackend: 0,
    bytesToClient: 0,
    timings: {},
  });
  t.notMatch(await m.text(), /attacker/);
});

t.test('HTTP requests, DNS lookups, reloads', async (t) => {
  const m = new Metrics({ defaultMetrics: false });
  let p = await scrape(m);
  t.same(
    p.series('edge46_dns_lookups_total'),
    { 'result=hit': 0, 'result=miss': 0, 'result=stale': 0, 'result=negative': 0, 'result=error': 0 },
    'every DNS result present from the start',
  );
  t.same(p.series('edge46_config_reloads_total'), { 'result=success': 0, 'result=failure': 0 });
  m.recordHttpRequest('web', 200, 0.02);
  m.recordHttpRequest('web', 200, 0.03);
  m.recordHttpRequest('web', 502, 1.2);
  m.dnsLookup('miss');
  m.dnsLookup('hit');
  m.dnsLookup('hit');
  m.configReload('failure');
  p = await scrape(m);
  t.same(p.series('edge46_http_requests_total'), { 'code=200,listener=web': 2, 'code=502,listener=web': 1 });
  t.equal(p.get('edge46_http_request_duration_seconds_count', { listener: 'web' }), 3);
  t.equal(p.get('edge46_http_request_duration_seconds_bucket', { listener: 'web', le: '0.025' }), 1);
  t.equal(p.get('edge46_http_request_duration_seconds_bucket', { listener: 'web', le: '1' }), 2);
  t.equal(p.get('edge46_dns_lookups_total', { result: 'hit' }), 2);
  t.equal(p.get('edge46_dns_lookups_total', { result: 'miss' }), 1);
  t.equal(p.get('edge46_config_reloads_total', { result: 'failure' }), 1);
});

t.test('live gauges are read at scrape time; bytes never go backwards', async (t) => {
  const m = new Metrics({ defaultMetrics: false });
  let live = { toBackend: 10, toClient: 500 };
  let open = 1;
  const source: LiveSource = {
    activeConnections: () =>
      new Map([
        ['tls', open],
        ['idle', 0],
      ]),
    liveBytes: () => new Map([['tls', live]]),
    dnsCacheEntries: () => 7,
  };
  m.bindLive(source);
  let p = await scrape(m);
  t.same(p.series('edge46_connections_active'), { 'listener=tls': 1, 'listener=idle': 0 });
  t.equal(p.get('edge46_dns_cache_entries'), 7);
  t.equal(
    p.get('edge46_bytes_total', { listener: 'tls', direction: 'to_client' }),
    500,
    'open connection counted',
  );

  // The pipe ended and left the live view, but its totals have not been reported yet.
  live = { toBackend: 0, toClient: 0 };
  open = 0;
  p = await scrape(m);
  t.equal(p.get('edge46_bytes_total', { listener: 'tls', direction: 'to_client' }), 500, 'no dip');
  m.connectionClosed({ listener: 'tls', outcome: 'ok', bytesToBackend: 10, bytesToClient: 600, timings: {} });
  p = await scrape(m);
  t.equal(p.get('edge46_bytes_total', { listener: 'tls', direction: 'to_client' }), 600, 'final total');
  t.equal(p.get('edge46_bytes_total', { listener: 'tls', direction: 'to_backend' }), 10);
  t.same(p.series('edge46_connections_active'), { 'listener=tls': 0, 'listener=idle': 0 });
});

t.test('process and Node metrics are included by default', async (t) => {
  const m = new Metrics();
  const p = await scrape(m);
  t.ok(p.get('process_cpu_user_seconds_total') !== undefined);
  t.ok(p.get('nodejs_heap_size_total_bytes') !== undefined);
});

t.test('RecentErrors keeps the newest, bounded, reasons trimmed', (t) => {
  let now = 1000;
  const ring = new RecentErrors(3, () => now++);
  for (let i = 0; i < 5; i++)
    ring.add({ listener: 'l', outcome: 'reset', reason: `r${i}`.padEnd(i === 4 ? 1000 : 2, 'x') });
  const list = ring.list();
  t.same(
    list.map((e) => e.at),
    [1004, 1003, 1002],
    'newest first, capacity 3',
  );
  t.equal(list[0]?.reason?.length, 300, 'long reason trimmed');
  t.same(new RecentErrors(2).list(), []);
  t.end();
});
