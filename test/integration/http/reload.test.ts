/**
 * A reload while the http listener keeps running: new routes apply to the next request on the same
 * client connection; unchanged http.upstream settings keep the warm backend connections, changed ones
 * retire the pools (their next request dials anew); changed client-side limits apply to new connections.
 */
import t from 'tap';
import { Client } from 'undici';
import { validateConfig } from '../../../src/config/load.js';
import type { ConfigInput } from '../../../src/config/schema.js';
import { withEdge, type Edge, type LogRecord } from '../../helpers/edge.js';
import { httpConfig, startHttpBackend } from './backends.js';

async function reload(edge: Edge, input: ConfigInput): Promise<void> {
  const r = validateConfig(input);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  await edge.app.reload(r.config);
}

t.test('reloads: routes per request, pools kept or retired by http.upstream', async (t) => {
  const a = await startHttpBackend(t, 'A');
  const b = await startHttpBackend(t, 'B');
  const routesA = [{ host: 'web.example', target: `[::1]:${a.port}` }];
  const base = httpConfig({ routes: routesA });
  const edge = await withEdge(t, base);
  const client = new Client(`http://127.0.0.1:${edge.port()}`);
  t.teardown(() => client.close());
  let n = 0;
  const next = async (): Promise<{ label: string; log: LogRecord }> => {
    const res = await client.request({ path: '/', method: 'GET', headers: { host: 'web.example' } });
    const { label } = (await res.body.json()) as { label: string };
    const want = ++n;
    let seen = 0;
    const log = await edge.logs.waitFor((r) => r.msg === 'request' && ++seen === want);
    return { label, log };
  };

  t.match(await next(), { label: 'A', log: { reused: false } });
  t.match(await next(), { label: 'A', log: { reused: true } });

  await reload(edge, {
    ...base,
    listeners: base.listeners,
    routes: routesA,
    http: { keepAliveTimeoutMs: 6_000 },
  });
  t.match(await next(), { label: 'A', log: { reused: true } }, 'client-side change only: pools kept');

  await reload(edge, { ...base, routes: routesA, http: { upstream: { keepAliveTimeoutMs: 3_000 } } });
  t.match(await next(), { label: 'A', log: { reused: false } }, 'http.upstream changed: a new pool dials');
  await edge.logs.waitFor((r) => r.msg === 'http.upstream changed: backend pools retired');

  await reload(edge, {
    ...base,
    routes: [{ host: 'web.example', target: `[::1]:${b.port}` }],
    http: { upstream: { keepAliveTimeoutMs: 3_000 } },
  });
  t.match(
    await next(),
    { label: 'B', log: { upstream: `[::1]:${b.port}` } },
    'new route, same client connection',
  );
  t.equal(a.connections(), 2, 'backend A saw two connections: before and after the pool change');
});
