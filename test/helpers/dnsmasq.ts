/**
 * A real DNS server for tests: dnsmasq (Debian's dnsmasq-base) in the foreground with its own config,
 * inside a test namespace or on loopback.
 *
 * - Static records (`records`, `cnames`) become `host-record=`/`cname=` lines with a TTL each.
 * - Dynamic records live in a `hostsdir` file that dnsmasq re-reads through inotify; all of them share
 *   one TTL (`dynamicTtl`, dnsmasq's local-ttl). `setDynamicRecords` writes the new file outside the
 *   directory, moves it in, and resolves when dnsmasq logs that it read it.
 * - `local=/zone/` makes unknown names in the zone NXDOMAIN; names outside the zone are REFUSED (no
 *   upstream servers). A name with only A records answers AAAA queries with no data.
 */
import { createSocket } from 'node:dgram';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Host } from './netns.js';
import { runCommand, spawnProcess, type ChildHandle, type TeardownRegistrar } from './process.js';

export interface DnsRecord {
  readonly name: string;
  readonly aaaa?: readonly string[];
  readonly a?: readonly string[];
  /** Seconds; static records only (default 60). */
  readonly ttl?: number;
}

export interface DnsCname {
  readonly alias: string;
  /** Must be a name this server knows (a static or dynamic record). */
  readonly target: string;
  readonly ttl?: number;
}

export interface DnsmasqOptions {
  /** Address to listen on (e.g. ADDR.dnsV6 in the backend namespace, '::1' on loopback). */
  readonly listen: string;
  /** Default: 53 inside a namespace, a free port when running on the host. */
  readonly port?: number;
  /** Authoritative-ish zone: unknown names under it are NXDOMAIN. */
  readonly zone: string;
  readonly records?: readonly DnsRecord[];
  readonly cnames?: readonly DnsCname[];
  /** Records that `setDynamicRecords` can replace during the test. */
  readonly dynamicRecords?: readonly DnsRecord[];
  /** TTL of every dynamic record, seconds (default 1). */
  readonly dynamicTtl?: number;
  /** Raw extra config lines. */
  readonly extraConfig?: readonly string[];
  readonly startTimeoutMs?: number;
  readonly t?: TeardownRegistrar;
}

export interface Dnsmasq {
  /** "[addr]:port" (IPv6) or "addr:port": the form resolver.servers and Resolver.setServers take. */
  readonly server: string;
  readonly listen: string;
  readonly port: number;
  readonly process: ChildHandle;
  /** Replaces the dynamic records; resolves once dnsmasq has re-read them. */
  setDynamicRecords(records: readonly DnsRecord[]): Promise<void>;
  stop(): Promise<void>;
}

export interface DnsQuery {
  readonly name: string;
  readonly type: 'A' | 'AAAA';
}

/** `ENOTFOUND` = NXDOMAIN, `ENODATA` = no record of the type, `EREFUSED`, `ETIMEOUT`, `ECONNREFUSED`… */
export type DnsAnswer =
  | { readonly ok: true; readonly records: ReadonlyArray<{ readonly address: string; readonly ttl: number }> }
  | { readonly ok: false; readonly code: string };

const LABELS = /^[a-z0-9_*]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/i;

function checkName(name: string): string {
  if (!LABELS.test(name)) throw new Error(`dnsmasq helper: bad name ${JSON.stringify(name)}`);
  return name;
}

function checkAddress(address: string, family: 4 | 6): string {
  if (isIP(address) !== family) throw new Error(`dnsmasq helper: not an IPv${family} address: ${address}`);
  return address;
}

function recordAddresses(r: DnsRecord): string[] {
  return [...(r.a ?? []).map((a) => checkAddress(a, 4)), ...(r.aaaa ?? []).map((a) => checkAddress(a, 6))];
}

export function formatServer(address: string, port: number): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

function hostsFile(records: readonly DnsRecord[]): string {
  return records.flatMap((r) => recordAddresses(r).map((addr) => `${addr} ${checkName(r.name)}\n`)).join('');
}

function configFile(opts: DnsmasqOptions, port: number, hostsDir: string): string {
  const lines = [
    `port=${port}`,
    `listen-address=${checkAddress(opts.listen, isIP(opts.listen) === 4 ? 4 : 6)}`,
    'bind-interfaces',
    'no-resolv',
    'no-hosts',
    'log-facility=-',
    `local=/${checkName(opts.zone)}/`,
    `local-ttl=${opts.dynamicTtl ?? 1}`,
    `hostsdir=${hostsDir}`,
  ];
  // One host-record line per address: dnsmasq keeps only the last of several IPv6 addresses on one line.
  for (const r of opts.records ?? []) {
    for (const addr of recordAddresses(r))
      lines.push(`host-record=${checkName(r.name)},${addr},${r.ttl ?? 60}`);
  }
  for (const c of opts.cnames ?? [])
    lines.push(`cname=${checkName(c.alias)},${checkName(c.target)},${c.ttl ?? 60}`);
  lines.push(...(opts.extraConfig ?? []));
  return `${lines.join('\n')}\n`;
}

/** A port free for both UDP and TCP on `address` (dnsmasq needs both; it cannot take port 0). */
async function freePort(address: string): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const udp = createSocket(isIP(address) === 6 ? 'udp6' : 'udp4');
    const port = await new Promise<number>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, address, () => resolve(udp.address().port));
    });
    const tcpFree = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, address, () => srv.close(() => resolve(true)));
    });
    udp.close();
    if (tcpFree) return port;
  }
  throw new Error(`no port free for both UDP and TCP on ${address}`);
}

// Run with `node -e SCRIPT JSON` (inside a namespace when needed). Polls only while no server answers,
// with a 20 ms gap (an unbound UDP port is refused at once), until `untilAnswerMs` has passed.
const QUERY_SCRIPT = `
const dns = require('node:dns');
const { server, queries, untilAnswerMs } = JSON.parse(process.argv[1]);
const resolver = new dns.promises.Resolver({ timeout: 400, tries: 1 });
resolver.setServers([server]);
const one = async (q) => {
  try {
    const records = q.type === 'AAAA' ? await resolver.resolve6(q.name, { ttl: true }) : await resolver.resolve4(q.name, { ttl: true });
    return { ok: true, records };
  } catch (e) {
    return { ok: false, code: String(e.code) };
  }
};
(async () => {
  const deadline = Date.now() + untilAnswerMs;
  for (;;) {
    const out = [];
    for (const q of queries) out.push(await one(q));
    const down = out.some((a) => !a.ok && (a.code === 'ECONNREFUSED' || a.code === 'ETIMEOUT'));
    if (!down || Date.now() >= deadline) { process.stdout.write(JSON.stringify(out)); return; }
    await new Promise((r) => setTimeout(r, 20));
  }
})();
`;

/**
 * Asks `server` with node's c-ares resolver (what edge46 uses), from inside `host`'s namespace or from
 * this machine when `host` is null. With `untilAnswerMs`, retries while the server is not answering.
 */
export async function queryDns(
  host: Host | null,
  server: string,
  queries: readonly DnsQuery[],
  opts: { readonly untilAnswerMs?: number } = {},
): Promise<DnsAnswer[]> {
  const arg = JSON.stringify({ server, queries, untilAnswerMs: opts.untilAnswerMs ?? 0 });
  const cmd = [process.execPath, '-e', QUERY_SCRIPT, arg];
  const result = host === null ? await runCommand(cmd) : await host.exec(cmd);
  if (result.code !== 0) throw new Error(`DNS query script failed (${result.code}): ${result.stderr}`);
  return JSON.parse(result.stdout) as DnsAnswer[];
}

/** Starts dnsmasq and resolves once it answers a real query. `host` null: run on this machine. */
export async function startDnsmasq(host: Host | null, opts: DnsmasqOptions): Promise<Dnsmasq> {
  const dir = await mkdtemp(join(tmpdir(), 'edge46-dnsmasq-'));
  const hostsDir = join(dir, 'hosts.d');
  const hostsPath = join(hostsDir, 'records');
  const port = opts.port ?? (host === null ? await freePort(opts.listen) : 53);
  const confPath = join(dir, 'dnsmasq.conf');
  await writeFile(confPath, configFile(opts, port, hostsDir));
  await mkdir(hostsDir);
  await writeFile(hostsPath, hostsFile(opts.dynamicRecords ?? []));

  const cmd = ['dnsmasq', '--keep-in-foreground', `--conf-file=${confPath}`, '--pid-file=', '--user=root'];
  const spawnOpts = { name: `dnsmasq@${host?.ns ?? 'host'}`, stopTimeoutMs: 2000 };
  const child = host === null ? spawnProcess(cmd, spawnOpts) : host.spawn(cmd, spawnOpts);
  const server = formatServer(opts.listen, port);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await child.stop();
      await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  opts.t?.teardown(stop);

  try {
    const timeout = opts.startTimeoutMs ?? 5000;
    await child.waitForLine((l) => l.includes('started, version'), timeout, { stream: 'stderr' });
    const [answer] = await queryDns(host, server, [{ name: opts.zone, type: 'AAAA' }], {
      untilAnswerMs: timeout,
    });
    if (
      answer === undefined ||
      (!answer.ok && (answer.code === 'ECONNREFUSED' || answer.code === 'ETIMEOUT'))
    ) {
      throw new Error(
        `dnsmasq on ${server} does not answer: ${JSON.stringify(answer)}\n${child.stderr.join('\n')}`,
      );
    }
  } catch (err) {
    await stop();
    throw err;
  }

  let generation = 0;
  const setDynamicRecords = async (records: readonly DnsRecord[]): Promise<void> => {
    // Written outside hostsdir then moved in: a temp file inside it would be read as hosts of its own.
    const staging = join(dir, `records.${generation++}`);
    await writeFile(staging, hostsFile(records));
    const from = child.stderr.length;
    await rename(staging, hostsPath);
    await child.waitForLine((l) => l.includes(`read ${hostsPath} - `), 5000, { stream: 'stderr', from });
  };

  return { server, listen: opts.listen, port, process: child, setDynamicRecords, stop };
}
