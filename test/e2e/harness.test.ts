// Proves the end-to-end harness itself: the three namespaces have the addressing the e2e tests rely on
// (IPv4-only client, dual-stack edge, IPv6-only backend) and dnsmasq in the backend answers as expected.
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { queryDns, startDnsmasq, type DnsAnswer } from '../helpers/dnsmasq.js';
import { ADDR, createTopology, requireNetns, type Host } from '../helpers/netns.js';
import { isRunning, runChecked, runCommand } from '../helpers/process.js';
import { startNginx } from './nginx.js';

const ZONE = 'c2.k8s.example';

function httpServer(host: Host, address: string, port: number, body: string) {
  const script =
    `require('node:http').createServer((req, res) => res.end(${JSON.stringify(body)}))` +
    `.listen(${port}, ${JSON.stringify(address)}, () => console.log('listening'));`;
  return httpServerScript(host, script);
}

function httpServerScript(host: Host, script: string) {
  const child = host.spawn([process.execPath, '-e', script], { name: `http-${host.role}` });
  return child.waitForLine((l) => l === 'listening', 10_000).then(() => child);
}

function curl(host: Host, url: string) {
  return host.exec(['curl', '-sS', '-g', '--max-time', '5', url]);
}

if (requireNetns(t)) {
  const topo = await createTopology(t);
  const { client, edge, backend } = topo;
  await topo.addBackendAddress(ADDR.outsideV6);
  await Promise.all([
    httpServer(backend, '::', 8080, 'backend'),
    httpServer(client, ADDR.clientV4, 8080, 'client'),
    httpServer(edge, ADDR.edgeV4, 8080, 'edge'),
  ]);

  t.test('the client is IPv4-only and cannot reach the backend', async (t) => {
    t.equal((await client.run(['cat', '/proc/sys/net/ipv6/conf/all/disable_ipv6'])).trim(), '1');
    t.equal((await client.run(['ip', '-6', 'addr', 'show'])).trim(), '', 'no IPv6 address, not even ::1');
    t.match(await client.run(['ip', '-4', 'addr', 'show', 'dev', 'eth0']), `inet ${ADDR.clientV4}/24`);
    const direct = await curl(client, `http://[${ADDR.backendV6}]:8080/`);
    t.not(direct.code, 0, `curl to the backend's IPv6 address fails: ${direct.stderr.trim()}`);
    t.not(direct.stdout, 'backend');
  });

  t.test('the backend is IPv6-only', async (t) => {
    t.equal(
      (await backend.run(['ip', '-4', 'addr', 'show'])).trim(),
      '',
      'no IPv4 address, not even 127.0.0.1',
    );
    const v6 = await backend.run(['ip', '-6', 'addr', 'show', 'dev', 'eth0']);
    for (const addr of [ADDR.backendV6, ADDR.dnsV6, ADDR.outsideV6]) t.match(v6, `inet6 ${addr}/64`);
    t.notMatch(v6, 'tentative', 'addresses are usable at once (nodad)');
  });

  t.test('the edge reaches the client over IPv4 and the backend over IPv6', async (t) => {
    t.equal(
      (await edge.run(['cat', '/proc/sys/net/ipv4/ip_forward'])).trim(),
      '0',
      'no forwarding on the edge',
    );
    t.equal((await curl(edge, `http://${ADDR.clientV4}:8080/`)).stdout, 'client');
    t.equal((await curl(edge, `http://[${ADDR.backendV6}]:8080/`)).stdout, 'backend');
    t.equal(
      (await curl(edge, `http://[${ADDR.outsideV6}]:8080/`)).stdout,
      'backend',
      'routed out-of-prefix address',
    );
  });

  t.test('curl in the client reaches a server on the edge over IPv4', async (t) => {
    const r = await curl(client, `http://${ADDR.edgeV4}:8080/`);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, 'edge');
  });

  t.test('dnsmasq in the backend namespace answers the edge', async (t) => {
    const dns = await startDnsmasq(backend, {
      listen: ADDR.dnsV6,
      zone: ZONE,
      records: [
        { name: `web.default.svc.${ZONE}`, aaaa: [ADDR.backendV6], ttl: 300 },
        { name: `multi.default.svc.${ZONE}`, aaaa: [ADDR.backendV6, ADDR.backendV6Alt], ttl: 120 },
        { name: `legacy.default.svc.${ZONE}`, a: ['192.0.2.80'], ttl: 300 },
        { name: `outside.default.svc.${ZONE}`, aaaa: [ADDR.outsideV6] },
      ],
      cnames: [{ alias: `alias.default.svc.${ZONE}`, target: `web.default.svc.${ZONE}`, ttl: 30 }],
      dynamicRecords: [{ name: `short.default.svc.${ZONE}`, aaaa: [ADDR.backendV6] }],
      dynamicTtl: 1,
      t,
    });
    t.equal(dns.server, `[${ADDR.dnsV6}]:53`);
    const q = (name: string, type: 'A' | 'AAAA' = 'AAAA') => ({ name: `${name}.default.svc.${ZONE}`, type });
    // dnsmasq rotates the order of several addresses between answers.
    const sorted = (answers: DnsAnswer[]) =>
      answers.map((a) =>
        a.ok ? { ...a, records: [...a.records].sort((x, y) => x.address.localeCompare(y.address)) } : a,
      );
    const answers = sorted(
      await queryDns(edge, dns.server, [
        q('web'),
        q('multi'),
        q('legacy'),
        q('legacy', 'A'),
        q('nope'),
        q('alias'),
        q('short'),
        { name: 'www.example.org', type: 'AAAA' },
      ]),
    );
    t.same(answers, [
      { ok: true, records: [{ address: ADDR.backendV6, ttl: 300 }] },
      {
        ok: true,
        records: [
          { address: ADDR.backendV6, ttl: 120 },
          { address: ADDR.backendV6Alt, ttl: 120 },
        ],
      },
      { ok: false, code: 'ENODATA' },
      { ok: true, records: [{ address: '192.0.2.80', ttl: 300 }] },
      { ok: false, code: 'ENOTFOUND' },
      { ok: true, records: [{ address: ADDR.backendV6, ttl: 30 }] },
      { ok: true, records: [{ address: ADDR.backendV6, ttl: 1 }] },
      { ok: false, code: 'EREFUSED' },
    ]);

    await dns.setDynamicRecords([{ name: `short.default.svc.${ZONE}`, aaaa: [ADDR.backendV6Alt] }]);
    t.same(await queryDns(edge, dns.server, [q('short')]), [
      { ok: true, records: [{ address: ADDR.backendV6Alt, ttl: 1 }] },
    ]);
    await dns.setDynamicRecords([]);
    t.same(await queryDns(edge, dns.server, [q('short')]), [{ ok: false, code: 'ENOTFOUND' }]);

    const fromClient = await queryDns(client, dns.server, [q('web')]);
    t.equal(fromClient[0]?.ok, false, 'the IPv4-only client cannot reach the IPv6 DNS server');
    await dns.stop();
  });

  t.test(
    'nginx runs in the IPv6-only backend with its own config and logs each request as JSON',
    async (t) => {
      const nginx = await startNginx(
        t,
        backend,
        `
  server { listen [${ADDR.backendV6}]:8081; location / { return 200 "nginx plain\\n"; } }
  server { listen [${ADDR.backendV6}]:8082 proxy_protocol; location / { return 200 "nginx pp\\n"; } }
`,
      );
      let from = nginx.mark();
      const plain = await edge.exec([
        'curl',
        '-sS',
        '-g',
        '--max-time',
        '5',
        '-H',
        `X-Forwarded-For: ${ADDR.clientV4}`,
        `http://[${ADDR.backendV6}]:8081/a`,
      ]);
      t.equal(plain.stdout, 'nginx plain\n', plain.stderr);
      t.match(await nginx.access(from, (r) => r.request === 'GET /a HTTP/1.1'), {
        remote_addr: ADDR.edgeV6,
        x_forwarded_for: ADDR.clientV4,
        status: 200,
      });
      from = nginx.mark();
      const pp = await edge.exec([
        'curl',
        '-sS',
        '-g',
        '--max-time',
        '5',
        '--haproxy-protocol',
        `http://[${ADDR.backendV6}]:8082/b`,
      ]);
      t.equal(pp.stdout, 'nginx pp\n', pp.stderr);
      t.match(await nginx.access(from, (r) => r.request === 'GET /b HTTP/1.1'), {
        proxy_protocol_addr: ADDR.edgeV6,
        status: 200,
      });
      await nginx.stop();
      t.equal(nginx.child.exitInfo?.signal ?? nginx.child.exitInfo?.code, 0, 'nginx exits 0 on SIGTERM');
    },
  );

  t.test('a NAT46 source prefix: the edge dials from the client IPv4 embedded in it', async (t) => {
    await topo.addNat46Prefix(ADDR.nat46Prefix, { nonlocalBind: true });
    const echo = await httpServerScript(
      backend,
      `require('node:http').createServer((req, res) => res.end(req.socket.remoteAddress))` +
        `.listen(8090, ${JSON.stringify(ADDR.backendV6)}, () => console.log('listening'));`,
    );
    const r = await edge.exec([
      'curl',
      '-sS',
      '-g',
      '--max-time',
      '5',
      '--interface',
      ADDR.nat46Client,
      `http://[${ADDR.backendV6}]:8090/`,
    ]);
    t.equal(r.stdout, ADDR.nat46Client, `the backend sees the NAT46 source ${r.stderr}`);
    await echo.stop();
  });

  t.test('a test process that crashes in setup leaves no namespace or process behind', async (t) => {
    const script = fileURLToPath(new URL('fixtures/crash-after-topology.ts', import.meta.url));
    // The test runner's own loader flags let the child import TypeScript like this file does.
    const res = await runCommand([process.execPath, ...process.execArgv, script], { env: process.env });
    t.not(res.code, 0, 'the fixture died');
    t.match(res.stderr, /simulated crash/);
    const made = JSON.parse(res.stdout.trim().split('\n').pop() ?? '{}') as {
      namespaces: string[];
      pids: number[];
    };
    t.equal(made.namespaces.length, 3);
    const list = await runChecked(['ip', 'netns', 'list']);
    for (const ns of made.namespaces) t.notMatch(list, ns, `${ns} was deleted`);
    for (const pid of made.pids) t.notOk(isRunning(pid), `pid ${pid} was killed`);
  });

  t.test('close removes the namespaces and what ran in them', async (t) => {
    const extra = await createTopology();
    const child = extra.edge.spawn(['sleep', '600']);
    await extra.close();
    t.not(child.exitInfo, null, 'the process started in the topology has exited');
    const stdout = await runChecked(['ip', 'netns', 'list']);
    for (const host of [extra.client, extra.edge, extra.backend]) t.notMatch(stdout, host.ns);
    await extra.close(); // idempotent
  });
}
