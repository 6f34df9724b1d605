// Drain and signals with the real process (`node dist/src/main.js`, workers: 1) on loopback:
// SIGTERM fails /readyz at once, keeps accepting for the announce window, then refuses new connections
// while a download started before SIGTERM completes intact, and exits 0; the drain timeout resets what
// is left; a second signal exits at once; SIGHUP reloads. Needs `npm run build` (npm test does).
import { createHash, randomBytes } from 'node:crypto';
import t from 'tap';
import {
  askThrough,
  connectOutcome,
  helloFor,
  readAll,
  readBytes,
  requireBuild,
  startEdgeProcess,
  startLabelBackend,
  startTcpBackend,
  tcpConnect,
} from '../../helpers/ops.js';

const skip = requireBuild();

const config = (routes: string, drain: string): string => `
listeners:
  - { name: main, address: "127.0.0.1:0", protocol: tls, backendPort: 443 }
admin: { address: "127.0.0.1:0" }
workers: 1
drain: ${drain}
backends: { allow: ["::1/128"], deny: [] }
resolver: { servers: ["127.0.0.1:1"], timeoutMs: 500, attempts: 1 }
routes:
${routes}
log: { level: info }
`;

t.test(
  'drain: a download started before SIGTERM completes, late connections are refused',
  { skip },
  async (t) => {
    const HALF = 8 * 1024 * 1024;
    const payload = randomBytes(2 * HALF);
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const big = await startTcpBackend(t, (socket) => {
      void readBytes(socket, helloFor('big.example').length).then(async () => {
        socket.write(payload.subarray(0, HALF));
        await released;
        socket.end(payload.subarray(HALF));
      });
    });
    const small = await startLabelBackend(t, 'small');
    const edge = await startEdgeProcess(
      t,
      config(
        `  - { host: big.example, target: "[::1]:${big.port}" }\n  - { host: small.example, target: "[::1]:${small.port}" }`,
        '{ announceSeconds: 2, timeoutSeconds: 30 }',
      ),
    );
    const port = edge.listenerPort('main');
    t.equal((await edge.admin('/readyz')).status, 200, 'ready before SIGTERM');

    const client = await tcpConnect(port);
    client.write(helloFor('big.example'));
    const first = await readBytes(client, HALF);
    t.equal(first.length, HALF, 'first half of the download arrived before SIGTERM');

    const from = edge.mark();
    edge.signal('SIGTERM');
    await edge.waitLog(
      (r) => r.msg === 'draining: /readyz fails now; still accepting during the announce window',
      {
        from,
      },
    );
    const ready = await edge.admin('/readyz');
    t.equal(ready.status, 503, '/readyz fails at once');
    t.match(JSON.parse(ready.text), { ready: false, draining: true });
    t.equal((await edge.admin('/healthz')).status, 200, '/healthz still fine');
    t.equal(
      await askThrough(port, 'small.example'),
      'small',
      'a new connection in the announce window is served',
    );

    await edge.waitLog((r) => r.msg === 'stopped accepting', { from });
    t.equal(
      await connectOutcome(port),
      'ECONNREFUSED',
      'a new connection after the announce window is refused',
    );

    const rest = readAll(client);
    release();
    const second = await rest;
    client.end();
    const hash = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    t.equal(first.length + second.length, payload.length, 'every byte arrived');
    t.equal(hash(Buffer.concat([first, second])), hash(payload), 'intact');

    const exit = await edge.child.exited;
    t.equal(exit.code, 0, 'exit 0');
    const after = edge.child.jsonLines().slice(from);
    t.notOk(
      after.some((r) => r.msg === 'grace period over: resetting open connections'),
      'finished within the timeout',
    );
    t.match(
      after.find((r) => r.msg === 'connection closed' && r.sni === 'big.example'),
      { outcome: 'ok', bytesOut: payload.length },
    );
    t.ok(after.some((r) => r.msg === 'edge46 stopped'));
  },
);

t.test(
  'drain: connections still open at the timeout are reset, and the exit is still 0',
  { skip },
  async (t) => {
    const echo = await startTcpBackend(t, (socket) => socket.pipe(socket));
    const edge = await startEdgeProcess(
      t,
      config(
        `  - { host: echo.example, target: "[::1]:${echo.port}" }`,
        '{ announceSeconds: 0, timeoutSeconds: 0.5 }',
      ),
    );
    const hello = helloFor('echo.example');
    const client = await tcpConnect(edge.listenerPort('main'));
    client.write(hello);
    await readBytes(client, hello.length);
    const from = edge.mark();
    const closed = readAll(client);
    edge.signal('SIGTERM');
    await edge.waitLog((r) => r.msg === 'grace period over: resetting open connections', { from });
    await closed;
    t.equal((await edge.child.exited).code, 0, 'exit 0');
    t.match(
      edge.child.jsonLines().find((r) => r.msg === 'connection closed'),
      { sni: 'echo.example', outcome: 'reset', end: 'aborted' },
    );
  },
);

t.test('a second SIGTERM or SIGINT exits at once', { skip }, async (t) => {
  const edge = await startEdgeProcess(t, config('  []', '{ announceSeconds: 60, timeoutSeconds: 60 }'));
  const from = edge.mark();
  edge.signal('SIGTERM');
  await edge.waitLog((r) => r.msg === 'shutting down', { from });
  edge.signal('SIGINT');
  const exit = await edge.child.exited;
  t.equal(exit.code, 1);
  const after = edge.child.jsonLines().slice(from);
  t.ok(after.some((r) => r.msg === 'second signal: exiting now'));
  t.notOk(
    after.some((r) => r.msg === 'draining: announce window over, closing listeners'),
    'did not wait',
  );
});

t.test('SIGHUP re-reads the file: a new route is served, a broken file is rejected', { skip }, async (t) => {
  const a = await startLabelBackend(t, 'A');
  const b = await startLabelBackend(t, 'B');
  const routeA = `  - { host: a.example, target: "[::1]:${a.port}" }`;
  const drain = '{ announceSeconds: 0, timeoutSeconds: 5 }';
  const edge = await startEdgeProcess(t, config(routeA, drain));
  const port = edge.listenerPort('main');

  let from = edge.mark();
  edge.signal('SIGHUP');
  t.match(
    await edge.waitLog((r) => typeof r.msg === 'string' && r.msg.startsWith('config reloaded'), { from }),
    { trigger: 'SIGHUP' },
    'SIGHUP reloads even an unchanged file',
  );

  from = edge.mark();
  await edge.writeConfig(config(`${routeA}\n  - { host: b.example, target: "[::1]:${b.port}" }`, drain));
  edge.signal('SIGHUP');
  await edge.waitLog((r) => typeof r.msg === 'string' && r.msg.includes('2 route(s)'), { from });
  t.equal(await askThrough(port, 'b.example'), 'B', 'the new route is served without a restart');

  from = edge.mark();
  await edge.writeConfig('listeners: 5\n');
  edge.signal('SIGHUP');
  await edge.waitLog((r) => typeof r.msg === 'string' && r.msg.startsWith('config reload rejected'), {
    from,
  });
  t.equal(await askThrough(port, 'a.example'), 'A', 'still serving after a rejected reload');
  const m = await edge.metrics();
  t.ok((m.get('edge46_config_reloads_total', { result: 'failure' }) ?? 0) >= 1, 'failure counted');
  t.ok((m.get('edge46_config_reloads_total', { result: 'success' }) ?? 0) >= 2, 'successes counted');
  const page = await edge.admin('/');
  t.match(page.text, /rejected/, 'the status page shows the rejected reload');
});
