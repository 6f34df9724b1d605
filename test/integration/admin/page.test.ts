// The admin server in-process: the status page renders listeners, routes with cached resolutions, live
// connection counts and the last errors (everything escaped); /healthz, /readyz (flips to 503 when
// draining), /routes, /status, and what it refuses. Cached resolutions need dnsmasq.
import { spawnSync } from 'node:child_process';
import t, { type Test } from 'tap';
import { appAdminSource } from '../../../src/admin/app-source.js';
import { AdminServer } from '../../../src/admin/server.js';
import { Readiness } from '../../../src/lifecycle/readiness.js';
import { createLogger } from '../../../src/observe/logger.js';
import { startDnsmasq } from '../../helpers/dnsmasq.js';
import { testConfig, withEdge, type Edge } from '../../helpers/edge.js';
import { askThrough, helloFor, readBytes, startTcpBackend, tcpConnect } from '../../helpers/ops.js';

const noDnsmasq = spawnSync('dnsmasq', ['--version']).status === 0 ? false : 'dnsmasq is not installed';
const ZONE = 'c2.example';

async function startAdmin(
  t: Test,
  edge: Edge,
  readiness = new Readiness(),
): Promise<(path: string, init?: RequestInit) => Promise<Response>> {
  const admin = await AdminServer.start({
    address: '127.0.0.1:0',
    source: appAdminSource(edge.app, { readiness }),
    log: createLogger({ level: 'silent', format: 'json' }),
  });
  t.teardown(() => admin.close());
  return (path, init) => fetch(`http://127.0.0.1:${admin.address.port}${path}`, init);
}

t.test(
  'the status page shows listeners, routes, live connections and the last errors',
  { skip: noDnsmasq },
  async (t) => {
    const dns = await startDnsmasq(null, {
      listen: '127.0.0.1',
      zone: ZONE,
      records: [{ name: `web.${ZONE}`, aaaa: ['::1'], ttl: 120 }],
      t,
    });
    const echo = await startTcpBackend(t, (socket) => socket.pipe(socket));
    const edge = await withEdge(
      t,
      testConfig({
        listeners: [
          { name: 'public', address: '127.0.0.1:0', protocol: 'tls', backendPort: echo.port },
          { name: 'second', address: '127.0.0.1:0', protocol: 'tls' },
        ],
        routes: [
          { host: '*.apps.example', target: `{sub}.${ZONE}` },
          { host: 'static.example', target: `[::1]:${echo.port}` },
        ],
        resolver: { servers: [dns.server], timeoutMs: 1000, attempts: 1 },
      }),
    );
    const get = await startAdmin(t, edge);
    const port = edge.port('public');

    // One connection open through a resolved route, one refused name, one nonexistent backend name, one
    // ClientHello whose name is hostile markup.
    const hello = helloFor('web.apps.example');
    const open = await tcpConnect(port);
    open.write(hello);
    await readBytes(open, hello.length);
    t.equal(await askThrough(port, 'unknown.example'), 'alert:112');
    t.equal(await askThrough(port, 'missing.apps.example'), 'alert:80');
    await askThrough(port, '<script>alert(1)</script>.example');
    await edge.logs.connection(2);

    const res = await get('/');
    t.equal(res.status, 200);
    t.match(res.headers.get('content-type'), /^text\/html; charset=utf-8/);
    t.match(res.headers.get('content-security-policy'), /default-src 'none'/, 'no scripts, ever');
    const html = await res.text();
    t.match(html, /<title>edge46 status<\/title>/);
    t.match(html, /<span class="badge ok" id="state">ready<\/span>/);
    t.match(
      html,
      new RegExp(
        `<td>public</td><td>tls</td><td><code>127\\.0\\.0\\.1:0</code></td><td><code>127\\.0\\.0\\.1:${port}</code></td><td><span class="num">1</span></td>`,
      ),
      'listener row with its open connection',
    );
    t.match(html, /<td>second<\/td>.*<span class="num">0<\/span>/, 'second listener, nothing open');
    t.match(html, /<span id="connections">1<\/span> open connection/);
    t.match(html, /<code>\*\.apps\.example<\/code><\/td><td><code>\{sub\}\.c2\.example<\/code>/, 'route row');
    t.match(
      html,
      /web\.c2\.example → ::1 <span class="dim">\(\d+s left\)<\/span>/,
      'cached resolution under its route',
    );
    t.match(html, /missing\.c2\.example → — <span class="dim">\(negative\)<\/span>/, 'negative cache entry');
    t.match(
      html,
      /<td>no_route<\/td><td><code>EDGE_NO_ROUTE<\/code><\/td><td>unknown\.example<\/td>/,
      'error row',
    );
    t.match(html, /<td>resolve_failed<\/td><td><code>EDGE_RESOLVE_NXDOMAIN<\/code>/);
    t.match(html, /<td>bad_hello<\/td>/, 'the hostile hello is listed');
    t.notMatch(html, /<script/i, 'no markup from the wire');
    t.notMatch(html, /<\/script>/i);

    const routes = (await (await get('/routes')).json()) as {
      routes: {
        pattern: string;
        resolutions: { name: string; addresses: string[]; negative: boolean; stale: boolean }[];
      }[];
    };
    t.match(routes.routes, [
      {
        pattern: '*.apps.example',
        resolutions: [
          { name: 'missing.c2.example', addresses: [], negative: true },
          { name: 'web.c2.example', addresses: ['::1'], negative: false, stale: false },
        ],
      },
      { pattern: 'static.example', resolutions: [] },
    ]);

    open.end();
    await edge.logs.connection(3);
    t.match(
      await (await get('/')).text(),
      /<span id="connections">0<\/span> open connection/,
      'live count follows',
    );
  },
);

t.test('health, readiness, and what the admin server refuses', async (t) => {
  const edge = await withEdge(t, testConfig());
  const readiness = new Readiness();
  const get = await startAdmin(t, edge, readiness);

  let res = await get('/healthz');
  t.equal(res.status, 200);
  t.equal(await res.text(), 'ok\n');
  res = await get('/readyz');
  t.equal(res.status, 200);
  t.same(await res.json(), { ready: true, draining: false, failing: [] });

  readiness.add('watch', () => 'kubernetes watch not synced');
  res = await get('/readyz');
  t.equal(res.status, 503, 'a failing check makes it unready');
  t.same(await res.json(), {
    ready: false,
    draining: false,
    failing: [{ check: 'watch', reason: 'kubernetes watch not synced' }],
  });
  readiness.remove('watch');

  readiness.startDraining();
  res = await get('/readyz');
  t.equal(res.status, 503, 'draining');
  t.match(await res.json(), { ready: false, draining: true, failing: [{ check: 'draining' }] });
  t.match(await (await get('/')).text(), /id="state">draining</);
  t.equal((await get('/healthz')).status, 200, 'still alive while draining');

  t.equal((await get('/nope')).status, 404);
  res = await get('/metrics', { method: 'POST' });
  t.equal(res.status, 405);
  t.equal(res.headers.get('allow'), 'GET, HEAD');
  res = await get('/', { method: 'HEAD' });
  t.equal(res.status, 200);
  t.equal(await res.text(), '', 'HEAD has no body');
  const status = (await (await get('/status')).json()) as { mode: string; listeners: unknown[] };
  t.equal(status.mode, 'single');
  t.equal(status.listeners.length, 1);
});

t.test('the admin server refuses to start on an address it cannot bind', async (t) => {
  const edge = await withEdge(t, testConfig());
  await t.rejects(
    AdminServer.start({
      address: `127.0.0.1:${edge.port()}`,
      source: appAdminSource(edge.app, { readiness: new Readiness() }),
      log: createLogger({ level: 'silent', format: 'json' }),
    }),
    /admin server: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/,
  );
});
