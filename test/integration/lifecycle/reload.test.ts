// Live reload in-process: the config file edited on disk is re-read, validated and applied without a
// restart; an invalid edit changes nothing; listeners come and go. SIGHUP and the cluster are covered
// with the real process in process.test.ts and cluster.test.ts.
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import t from 'tap';
import {
  askThrough,
  connectOutcome,
  helloFor,
  readBytes,
  startLabelBackend,
  startTcpBackend,
  tcpConnect,
} from '../../helpers/ops.js';
import { withReloadingEdge } from './harness.js';

const base = (
  routes: string,
  listeners = '  - { name: main, address: "127.0.0.1:0", protocol: tls }',
): string => `
listeners:
${listeners}
backends: { allow: ["::1/128"], deny: [] }
resolver: { servers: ["127.0.0.1:1"], timeoutMs: 500, attempts: 1 }
routes:
${routes}
log: { level: debug, format: json }
`;

t.test('a route added by editing the file is served without restart', async (t) => {
  const a = await startLabelBackend(t, 'A');
  const b = await startLabelBackend(t, 'B');
  const rig = await withReloadingEdge(t, base(`  - { host: a.example, target: "[::1]:${a.port}" }`));
  const port = rig.port('main');
  t.equal(await askThrough(port, 'a.example'), 'A');
  t.equal(await askThrough(port, 'b.example'), 'alert:112', 'b.example has no route yet');

  const reloaded = rig.nextReload();
  await rig.write(
    base(
      `  - { host: a.example, target: "[::1]:${a.port}" }\n  - { host: b.example, target: "[::1]:${b.port}" }`,
    ),
  );
  t.match(await reloaded, { msg: /^config reloaded: 1 listener\(s\), 2 route\(s\)/, trigger: 'file change' });
  t.equal(rig.port('main'), port, 'same listener, same port');
  t.equal(await askThrough(port, 'b.example'), 'B', 'new route served');
  t.equal(await askThrough(port, 'a.example'), 'A', 'old route still served');
  t.equal(await rig.reloads('success'), 1);
  t.equal(await rig.reloads('failure'), 0);
});

t.test('an open connection keeps its snapshot while the routes change under it', async (t) => {
  const hello = helloFor('a.example');
  const echo = await startTcpBackend(t, (socket) => socket.pipe(socket));
  const rig = await withReloadingEdge(t, base(`  - { host: a.example, target: "[::1]:${echo.port}" }`));
  const client = await tcpConnect(rig.port('main'));
  client.write(hello);
  t.same(await readBytes(client, hello.length), hello, 'echoed hello: the pipe is up');
  const reloaded = rig.nextReload();
  await rig.write(base('  - { host: other.example, target: "[::1]:1" }'));
  await reloaded;
  t.equal(await askThrough(rig.port('main'), 'a.example'), 'alert:112', 'new connections see the new table');
  client.write('still here');
  t.equal((await readBytes(client, 10)).toString(), 'still here', 'the open connection keeps going');
  client.end();
  t.match(await rig.logs.waitFor((r) => r.msg === 'connection closed' && r.route === 'a.example'), {
    sni: 'a.example',
    outcome: 'ok',
  });
});

t.test('an invalid edit is rejected, every problem logged, and the old routes keep serving', async (t) => {
  const a = await startLabelBackend(t, 'A');
  const good = base(`  - { host: a.example, target: "[::1]:${a.port}" }`);
  const rig = await withReloadingEdge(t, good);
  const port = rig.port('main');
  const configBefore = rig.app.current().config;

  // Schema problems (types, unknown keys) are all reported together …
  let rejected = rig.nextReload();
  await rig.write(
    base(
      [
        `  - { host: a.example, target: "[::1]:${a.port}" }`,
        '  - { host: d.example, target: "d.internal", colour: blue }',
      ].join('\n'),
      '  - { name: main, address: "127.0.0.1:0", protocol: tls, maxConnections: -1 }',
    ).replace('attempts: 1', 'attempts: "many"'),
  );
  t.match(await rejected, { msg: /^config reload rejected: 3 problem\(s\)/, trigger: 'file change' });
  let problems = rig.logs.records.filter((r) => r.msg === 'config reload: problem').map((r) => r.path);
  t.same(
    problems.sort(),
    ['listeners[0].maxConnections', 'resolver.attempts', 'routes[1].colour'],
    'each problem logged with its path',
  );
  // … and so are the cross-field ones.
  rejected = rig.nextReload();
  await rig.write(
    base(
      [
        `  - { host: a.example, target: "[::1]:${a.port}" }`,
        '  - { host: b.example, target: "{nope}" }',
        '  - { host: c.example, target: "[2001:db8::1]:443" }',
      ].join('\n'),
    ),
  );
  t.match(await rejected, { msg: /^config reload rejected: 3 problem\(s\)/ });
  problems = rig.logs.records.filter((r) => r.msg === 'config reload: problem').map((r) => r.path);
  t.same([...new Set(problems.slice(3))].sort(), ['routes[1].target', 'routes[2].target']);
  t.equal(rig.app.current().config, configBefore, 'the running config is untouched');
  t.equal(await askThrough(port, 'a.example'), 'A', 'old route still served');
  t.equal(await askThrough(port, 'b.example'), 'alert:112', 'nothing of the bad file applied');

  rejected = rig.nextReload();
  await rig.write('listeners: [ { name: main\n');
  t.match(await rejected, { msg: /^config reload rejected/ }, 'a YAML syntax error is rejected too');
  t.equal(await rig.reloads('failure'), 3, 'every failure counted');
  t.equal(await rig.reloads('success'), 0);
  t.equal(await askThrough(port, 'a.example'), 'A');

  const fixed = rig.nextReload();
  await rig.write(`${good}\n# fixed\n`);
  t.match(await fixed, { msg: /^config reloaded/ }, 'a later valid edit applies');
  t.equal(await rig.reloads('success'), 1);
});

t.test(
  'listeners added by reload accept; removed ones stop accepting, open connections finish',
  async (t) => {
    const echo = await startTcpBackend(t, (socket) => socket.pipe(socket));
    const route = `  - { host: a.example, target: "[::1]:${echo.port}" }`;
    const one = '  - { name: main, address: "127.0.0.1:0", protocol: tls }';
    const two = `${one}\n  - { name: extra, address: "127.0.0.1:0", protocol: tls }`;
    const rig = await withReloadingEdge(t, base(route, one));
    const mainPort = rig.port('main');

    let reloaded = rig.nextReload();
    await rig.write(base(route, two));
    t.match(await reloaded, { msg: /added extra/ });
    const extraPort = rig.port('extra');
    t.not(extraPort, mainPort);
    t.equal(rig.port('main'), mainPort, 'the kept listener keeps its port');

    const hello = helloFor('a.example');
    const open = await tcpConnect(extraPort);
    open.write(hello);
    t.same(await readBytes(open, hello.length), hello, 'the added listener accepts and routes');

    reloaded = rig.nextReload();
    await rig.write(base(route, one));
    t.match(await reloaded, { msg: /removed extra/ });
    t.equal(await connectOutcome(extraPort), 'ECONNREFUSED', 'the removed listener no longer accepts');
    t.match(
      rig.app.listenerStats().find((l) => l.name === 'extra'),
      { configured: false, connections: 1, bound: null },
      'shown as removed while its connection is open',
    );
    open.write('bye');
    t.equal((await readBytes(open, 3)).toString(), 'bye', 'its open connection keeps going');
    open.end();
    await rig.logs.waitFor((r) => r.msg === 'removed listener: last connection closed');
    t.equal(
      rig.app.listenerStats().some((l) => l.name === 'extra'),
      false,
      'forgotten once its last connection closed',
    );
  },
);

t.test('a new listener that cannot bind fails the reload and changes nothing', async (t) => {
  const a = await startLabelBackend(t, 'A');
  const taken = createServer();
  taken.listen(0, '127.0.0.1');
  await once(taken, 'listening');
  t.teardown(() => new Promise<void>((r) => taken.close(() => r())));
  const takenPort = (taken.address() as AddressInfo).port;
  const route = `  - { host: a.example, target: "[::1]:${a.port}" }`;
  const rig = await withReloadingEdge(t, base(route));
  const routesBefore = rig.app.current().routes;

  const rejected = rig.nextReload();
  await rig.write(
    base(
      `${route}\n  - { host: b.example, target: "[::1]:${a.port}" }`,
      [
        '  - { name: main, address: "127.0.0.1:0", protocol: tls }',
        '  - { name: fresh, address: "127.0.0.1:0", protocol: tls }',
        `  - { name: clash, address: "127.0.0.1:${takenPort}", protocol: tls }`,
      ].join('\n'),
    ),
  );
  t.match(await rejected, { msg: /^config reload rejected/ });
  t.ok(
    rig.logs.records.some(
      (r) => r.msg === 'config reload: problem' && /cannot listen/.test(String(r.problem)),
    ),
    'the bind error is logged',
  );
  t.equal(rig.app.current().routes, routesBefore, 'route table unchanged');
  t.same(
    rig.app.listenerStats().map((l) => l.name),
    ['main'],
    'the listener opened before the failure was closed again',
  );
  t.equal(await rig.reloads('failure'), 1);
});

t.test('an unchanged resolver section keeps the resolver and its cache', async (t) => {
  const rig = await withReloadingEdge(t, base('  - { host: a.example, target: "a.internal.example" }'));
  const resolver = rig.app.current().resolver;
  let reloaded = rig.nextReload();
  await rig.write(base('  - { host: b.example, target: "b.internal.example" }'));
  await reloaded;
  t.equal(rig.app.current().resolver, resolver, 'routes changed, resolver kept');
  reloaded = rig.nextReload();
  await rig.write(
    base('  - { host: b.example, target: "b.internal.example" }').replace('timeoutMs: 500', 'timeoutMs: 600'),
  );
  await reloaded;
  t.not(rig.app.current().resolver, resolver, 'resolver settings changed: a new resolver');
});
