// Metrics move: after a known sequence of connections (ok, no_route, blocked, reset, resolve_failed)
// the counters and histograms on the admin server's /metrics have exactly the expected values.
// In-process (withEdge + the admin server on 127.0.0.1:0); the same sequence against a real process
// with `workers: 2` is in metrics-cluster.test.ts. Needs dnsmasq (.ci/run installs dnsmasq-base).
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { appAdminSource } from '../../../src/admin/app-source.js';
import { AdminServer } from '../../../src/admin/server.js';
import { Readiness } from '../../../src/lifecycle/readiness.js';
import { startDnsmasq } from '../../helpers/dnsmasq.js';
import { testConfig, withEdge } from '../../helpers/edge.js';
import { createLogger } from '../../../src/observe/logger.js';
import { helloFor, PromText, readBytes, startTcpBackend, tcpConnect } from '../../helpers/ops.js';
import { checkMetrics, DNS_RECORDS, routes, runSequence, startBackends, ZONE } from './sequence.js';

const noDnsmasq = spawnSync('dnsmasq', ['--version']).status === 0 ? false : 'dnsmasq is not installed';

t.test('counters and histograms after a known sequence', { skip: noDnsmasq }, async (t) => {
  const dns = await startDnsmasq(null, { listen: '127.0.0.1', zone: ZONE, records: DNS_RECORDS, t });
  const backends = await startBackends(t);
  const edge = await withEdge(
    t,
    testConfig({
      routes: routes(backends),
      resolver: { servers: [dns.server], timeoutMs: 1000, attempts: 1 },
    }),
  );
  const admin = await AdminServer.start({
    address: '127.0.0.1:0',
    source: appAdminSource(edge.app, { readiness: new Readiness() }),
    log: createLogger({ level: 'silent', format: 'json' }),
  });
  t.teardown(() => admin.close());
  const scrape = async (): Promise<PromText> => {
    const res = await fetch(`http://127.0.0.1:${admin.address.port}/metrics`);
    t.equal(res.status, 200);
    t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    return new PromText(await res.text());
  };

  const before = await scrape();
  t.same(before.series('edge46_connections_total'), {}, 'no connection counted before the sequence');
  t.equal(before.get('edge46_dns_lookups_total', { result: 'miss' }), 0);

  let seen = 0;
  await runSequence(t, {
    port: edge.port(),
    closed: (n) => {
      seen = -1;
      return edge.logs.waitFor((r) => r.msg === 'connection closed' && ++seen === n);
    },
  });
  checkMetrics(t, await scrape(), 'tls', { singleCache: true });
});

t.test('bytes of open connections are counted while they run, and never go backwards', async (t) => {
  const backend = await startTcpBackend(t, (socket) => {
    void readBytes(socket, helloFor('big.example').length).then(() => socket.write(Buffer.alloc(100_000, 7)));
  });
  const edge = await withEdge(
    t,
    testConfig({ routes: [{ host: 'big.example', target: `[::1]:${backend.port}` }] }),
  );
  const metrics = edge.app.metrics;
  const toClient = async (): Promise<number | undefined> =>
    new PromText(await metrics.text()).get('edge46_bytes_total', { listener: 'tls', direction: 'to_client' });

  const client = await tcpConnect(edge.port());
  client.write(helloFor('big.example'));
  await readBytes(client, 100_000);
  t.equal(await toClient(), 100_000, 'an open connection’s bytes show up before it closes');
  t.equal(
    new PromText(await metrics.text()).get('edge46_connections_active', { listener: 'tls' }),
    1,
    'one connection open',
  );
  client.end();
  (await backend.socket(0)).end();
  await edge.logs.connection(0);
  t.equal(await toClient(), 100_000, 'same total once closed');
});
