/**
 * TLS passthrough on loopback with real peers: node tls, openssl s_client and curl as clients, real TLS
 * servers on [::1] as backends. Routes here use literal targets; name resolution through a real DNS
 * server is covered in resolve-dnsmasq.test.ts and the namespace end-to-end tests.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import https from 'node:https';
import { connect as tcpConnect, type AddressInfo } from 'node:net';
import tls from 'node:tls';
import t from 'tap';
import { connectTls, readLine, startTlsBackend, testPki } from '../helpers/tls-backend.js';
import { testConfig, withEdge } from '../helpers/edge.js';

function hasCommand(cmd: string): Promise<boolean> {
  return new Promise((resolve) =>
    execFile('sh', ['-c', `command -v ${cmd}`], (err) => resolve(err === null)),
  );
}
const noOpenssl = (await hasCommand('openssl')) ? false : 'openssl is not installed';
const noCurl = (await hasCommand('curl')) ? false : 'curl is not installed';

t.test('node tls client reaches the backend by SNI and sees its certificate', async (t) => {
  const a = await startTlsBackend(t, 'A');
  const b = await startTlsBackend(t, 'B');
  const edge = await withEdge(
    t,
    testConfig({
      routes: [
        { host: 'web.example', target: `[::1]:${a.port}` },
        { host: '*.apps.example.com', target: `[::1]`, port: b.port },
      ],
    }),
  );
  const client = connectTls(edge.port(), 'web.example', { checkServerIdentity: tls.checkServerIdentity });
  await once(client, 'secureConnect');
  t.equal(client.authorized, true, 'backend certificate verified against the test CA');
  t.equal(client.getPeerCertificate().subject.CN, 'backend.test');
  t.equal(await readLine(client), 'A web.example');
  client.write('ping\n');
  t.equal(await readLine(client), 'ping');
  client.end();
  const log = await edge.logs.connection(0);
  t.match(log, {
    outcome: 'ok',
    sni: 'web.example',
    route: 'web.example',
    backend: `[::1]:${a.port}`,
    client: '127.0.0.1',
    listener: 'tls',
  });
  t.ok((log.bytesIn as number) > 200 && (log.bytesOut as number) > 200, 'bytes counted both ways');
  t.match(log.durations, { sniff: Number, resolve: Number, connect: Number, total: Number });

  const second = connectTls(edge.port(), 'shop.apps.example.com');
  await once(second, 'secureConnect');
  t.equal(await readLine(second), 'B shop.apps.example.com', 'wildcard route with route port');
  second.end();
  await edge.logs.connection(1);
});

t.test('openssl s_client verifies the backend certificate through edge46', { skip: noOpenssl }, async (t) => {
  const backend = await startTlsBackend(t, 'S');
  const edge = await withEdge(
    t,
    testConfig({ routes: [{ host: 'web.example', target: `[::1]:${backend.port}` }] }),
  );
  const out = await new Promise<string>((resolve) => {
    const child = spawn(
      'openssl',
      [
        's_client',
        '-connect',
        `127.0.0.1:${edge.port()}`,
        '-servername',
        'web.example',
        '-verify_return_error',
        '-CAfile',
        testPki.caFile,
        '-verify_hostname',
        'web.example',
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let text = '';
    child.stdout.on('data', (c: Buffer) => (text += c.toString()));
    child.stderr.on('data', (c: Buffer) => (text += c.toString()));
    child.on('close', () => resolve(text));
    child.stdin.end('Q\n');
  });
  t.match(out, /Verify return code: 0 \(ok\)/);
  t.match(out, /subject=CN ?= ?backend\.test/);
  await edge.logs.connection(0);
});

t.test('curl --resolve through edge46 to an https backend', { skip: noCurl }, async (t) => {
  const server = https.createServer({ cert: testPki.cert, key: testPki.key }, (req, res) => {
    res.end(`hello ${req.headers.host ?? ''}\n`);
  });
  server.listen(0, '::1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as AddressInfo).port;
  const edge = await withEdge(t, testConfig({ routes: [{ host: 'web.example', target: `[::1]:${port}` }] }));
  const body = await new Promise<string>((resolve, reject) =>
    execFile(
      'curl',
      [
        '-sS',
        '--cacert',
        testPki.caFile,
        '--resolve',
        `web.example:${edge.port()}:127.0.0.1`,
        `https://web.example:${edge.port()}/`,
      ],
      (err, stdout, stderr) => (err === null ? resolve(stdout) : reject(new Error(stderr))),
    ),
  );
  t.equal(body, `hello web.example:${edge.port()}\n`);
  await edge.logs.connection(0);
});

t.test('unknown names get an unrecognized_name alert and the next client is served', async (t) => {
  const backend = await startTlsBackend(t, 'A');
  const edge = await withEdge(
    t,
    testConfig({ routes: [{ host: 'web.example', target: `[::1]:${backend.port}` }] }),
  );
  const client = connectTls(edge.port(), 'nope.example');
  const [err] = (await once(client, 'error')) as [Error & { code?: string }];
  t.match(err.code, /UNRECOGNIZED_NAME/, `client saw the alert (${err.code})`);
  t.match(await edge.logs.connection(0), { outcome: 'no_route', code: 'EDGE_NO_ROUTE', sni: 'nope.example' });
  t.same(backend.seen, [], 'nothing reached the backend');

  const ok = connectTls(edge.port(), 'web.example');
  t.equal(await readLine(ok), 'A web.example');
  ok.end();
  t.match(await edge.logs.connection(1), { outcome: 'ok' });
});

t.test('missing SNI: defaultHost routes it, otherwise unrecognized_name', async (t) => {
  const backend = await startTlsBackend(t, 'D');
  const edge = await withEdge(
    t,
    testConfig({
      listeners: [
        { name: 'with-default', address: '127.0.0.1:0', protocol: 'tls', defaultHost: 'web.example' },
        { name: 'without', address: '127.0.0.1:0', protocol: 'tls' },
      ],
      routes: [{ host: 'web.example', target: `[::1]:${backend.port}` }],
    }),
  );
  const routed = connectTls(edge.port('with-default'), undefined);
  t.equal(await readLine(routed), 'D ', 'served via defaultHost (backend saw no SNI)');
  routed.end();
  await edge.logs.waitFor((r) => r.listener === 'with-default' && r.msg === 'connection closed');
  const refused = connectTls(edge.port('without'), undefined);
  const [err] = (await once(refused, 'error')) as [Error & { code?: string }];
  t.match(err.code, /UNRECOGNIZED_NAME/);
  t.match(await edge.logs.waitFor((r) => r.listener === 'without' && r.msg === 'connection closed'), {
    code: 'EDGE_NO_SNI',
  });
});

t.test('garbage and slow clients are closed and logged; the next client is served', async (t) => {
  const backend = await startTlsBackend(t, 'A');
  const edge = await withEdge(
    t,
    testConfig({
      listeners: [{ name: 'tls', address: '127.0.0.1:0', protocol: 'tls', sniffTimeoutMs: 300 }],
      routes: [{ host: 'web.example', target: `[::1]:${backend.port}` }],
    }),
  );
  const garbage = tcpConnect(edge.port(), '127.0.0.1');
  garbage.end('GET / HTTP/1.1\r\nHost: web.example\r\n\r\n');
  garbage.resume();
  await once(garbage, 'close');
  t.match(await edge.logs.connection(0), { outcome: 'bad_hello', code: 'EDGE_NOT_TLS' });

  const slow = tcpConnect(edge.port(), '127.0.0.1');
  slow.write(Buffer.from([0x16, 0x03, 0x01]));
  slow.resume();
  await once(slow, 'close');
  t.match(await edge.logs.connection(1), { outcome: 'timeout', code: 'EDGE_SNIFF_TIMEOUT' });

  const ok = connectTls(edge.port(), 'web.example');
  t.equal(await readLine(ok), 'A web.example');
  ok.end();
  t.match(await edge.logs.connection(2), { outcome: 'ok' });
  t.same(backend.seen, ['web.example'], 'only the good client reached the backend');
});

t.test('maxConnections: the connection over the limit is closed, the others continue', async (t) => {
  const backend = await startTlsBackend(t, 'A');
  const edge = await withEdge(
    t,
    testConfig({
      listeners: [{ name: 'tls', address: '127.0.0.1:0', protocol: 'tls', maxConnections: 1 }],
      routes: [{ host: 'web.example', target: `[::1]:${backend.port}` }],
    }),
  );
  const first = connectTls(edge.port(), 'web.example');
  t.equal(await readLine(first), 'A web.example');
  const second = tcpConnect(edge.port(), '127.0.0.1');
  second.on('error', () => {});
  second.resume();
  await once(second, 'close');
  t.match(await edge.logs.waitFor((r) => r.code === 'EDGE_OVER_CAPACITY'), { outcome: 'overload' });
  first.write('still here\n');
  t.equal(await readLine(first), 'still here');
  first.end();
  t.match(await edge.logs.connection(0), { outcome: 'ok' });
});

t.test('50 MB each way arrive intact', async (t) => {
  const size = 50 * 1024 * 1024;
  const backendReceived = createHash('sha256');
  const backendSent = createHash('sha256');
  const backend = await startTlsBackend(t, 'bulk', (socket) => {
    socket.on('data', (c: Buffer) => backendReceived.update(c));
    // End only after the client's end: a client TLS socket (allowHalfOpen false) that sees the backend's
    // close_notify while still writing ends itself and never emits 'drain' again.
    void Promise.all([sendRandom(socket, size, backendSent), once(socket, 'end')]).then(() => socket.end());
  });
  const edge = await withEdge(
    t,
    testConfig({ routes: [{ host: 'web.example', target: `[::1]:${backend.port}` }] }),
  );
  const client = connectTls(edge.port(), 'web.example');
  await once(client, 'secureConnect');
  const clientReceived = createHash('sha256');
  let receivedBytes = 0;
  client.on('data', (c: Buffer) => {
    receivedBytes += c.length;
    clientReceived.update(c);
  });
  const clientSent = createHash('sha256');
  await sendRandom(client, size, clientSent);
  client.end();
  await once(client, 'end');
  await edge.logs.connection(0);
  t.equal(receivedBytes, size);
  t.equal(clientReceived.digest('hex'), backendSent.digest('hex'), 'backend → client intact');
  t.equal(backendReceived.digest('hex'), clientSent.digest('hex'), 'client → backend intact');
  const log = (await edge.logs.connection(0)) as { bytesIn: number; bytesOut: number; outcome: string };
  t.equal(log.outcome, 'ok');
  t.ok(log.bytesIn > size && log.bytesOut > size, 'TLS bytes counted');
});

async function sendRandom(
  socket: NodeJS.WritableStream,
  size: number,
  hash: ReturnType<typeof createHash>,
): Promise<void> {
  const block = randomBytes(256 * 1024);
  for (let sent = 0; sent < size; sent += block.length) {
    const chunk = block.subarray(0, Math.min(block.length, size - sent));
    hash.update(chunk);
    if (!socket.write(chunk)) await once(socket, 'drain');
  }
}
