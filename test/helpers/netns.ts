/**
 * Three real hosts for end-to-end tests, made of network namespaces (needs root and iproute2):
 *
 *   client (IPv4 only)            edge (dual-stack, runs edge46)           backend (IPv6 only)
 *   eth0 192.0.2.10/24 ──veth── to-client 192.0.2.1/24
 *                                 to-backend 2001:db8:10::1/64 ──veth── eth0 2001:db8:10::10/64
 *                                                                            2001:db8:10::53 (DNS)
 *
 * The client has IPv6 disabled (no ::1 either) and a default route via the edge; the backend has no IPv4
 * address at all (127.0.0.1 removed from lo). Forwarding is off on the edge: edge46 terminates TCP, so
 * the client can reach the backend only through it. Documentation prefixes only (RFC 5737, RFC 3849).
 * Veths are created directly inside their namespaces, so their names never meet in the root namespace.
 *
 * Namespace names are `e46-<creator pid, base 36>-<sequence>-<role>`: unique per process, so parallel
 * test files do not collide, and a namespace whose creator is dead is stale and removed on the next run.
 */
import { spawnSync } from 'node:child_process';
import { BlockList, isIPv6 } from 'node:net';
import {
  runChecked,
  runCommand,
  signalPid,
  spawnProcess,
  type ChildHandle,
  type ExecOptions,
  type ExecResult,
  type SpawnOptions,
  type TeardownRegistrar,
} from './process.js';

/** Every address the topology uses; extra backend addresses are documented here and added on demand. */
export const ADDR = {
  clientV4: '192.0.2.10',
  edgeV4: '192.0.2.1',
  v4Net: '192.0.2.0/24',
  edgeV6: '2001:db8:10::1',
  backendV6: '2001:db8:10::10',
  /** On the backend's eth0 from the start: where startDnsmasq listens in the backend namespace. */
  dnsV6: '2001:db8:10::53',
  /** The backend link's prefix; a config's `backends.allow` typically names 2001:db8:10::/48. */
  backendNet: '2001:db8:10::/64',
  /** A second backend address (add with `topology.addBackendAddress(ADDR.backendV6Alt)`). */
  backendV6Alt: '2001:db8:10::11',
  /** Reachable from the edge by a route, but outside 2001:db8:10::/48: for allowlist tests. */
  outsideV6: '2001:db8:99::10',
  outsideNet: '2001:db8:99::/64',
  /** RFC 8215 local-use IPv4/IPv6 translation prefix, for NAT46 source addresses (addNat46Prefix). */
  nat46Prefix: '64:ff9b:1::/96',
  /** ADDR.clientV4 (192.0.2.10 = c000:020a) embedded in nat46Prefix. */
  nat46Client: '64:ff9b:1::c000:20a',
} as const;

export type Addresses = typeof ADDR;

/** Interface names inside the namespaces. */
export const LINKS = {
  client: 'eth0',
  edgeToClient: 'to-client',
  edgeToBackend: 'to-backend',
  backend: 'eth0',
} as const;

export type HostRole = 'client' | 'edge' | 'backend';

export interface Host {
  readonly role: HostRole;
  readonly ns: string;
  /** Runs a command inside the namespace to completion; resolves with its exit code and output. */
  exec(cmd: readonly string[], opts?: Omit<ExecOptions, 'ns'>): Promise<ExecResult>;
  /** Like exec, but rejects unless the command exits 0; resolves with stdout. */
  run(cmd: readonly string[], opts?: Omit<ExecOptions, 'ns'>): Promise<string>;
  /** Starts a long-running process inside the namespace; the topology stops it on close. */
  spawn(cmd: readonly string[], opts?: Omit<SpawnOptions, 'ns'>): ChildHandle;
  /** `ip -n NS ARGS…`; rejects with ip's stderr on failure. */
  ip(...args: string[]): Promise<void>;
  /** Adds an address (IPv6 ones with `nodad`, so they are usable at once). `cidr` is "addr/len". */
  addAddress(cidr: string, dev: string): Promise<void>;
}

export interface Topology {
  /** Unique per topology, e.g. "e46-2kx-0"; the namespaces are `${id}-client` etc. */
  readonly id: string;
  readonly client: Host;
  readonly edge: Host;
  readonly backend: Host;
  readonly addr: Addresses;
  /**
   * Adds an IPv6 address (default /64) to the backend's eth0; an address outside ADDR.backendNet also
   * gets a route on the edge via the backend, so the edge can reach it.
   */
  addBackendAddress(address: string, prefixLength?: number): Promise<void>;
  /**
   * NAT46 source addresses (a client's IPv4 in the low 32 bits of `prefix`, e.g. "64:ff9b:1::/96"):
   * makes the prefix local on the edge (`route add local … dev lo`) and routes it back from the backend
   * via the edge. A plain bind inside it still fails with EADDRNOTAVAIL unless the socket has IP_FREEBIND
   * or `nonlocalBind` sets net.ipv6.ip_nonlocal_bind=1 in the edge namespace.
   */
  addNat46Prefix(prefix: string, opts?: { readonly nonlocalBind?: boolean }): Promise<void>;
  /** Stops processes started through the hosts, kills whatever else runs inside, deletes the namespaces. */
  close(): Promise<void>;
}

export type NetnsCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const PREFIX = 'e46';
const NAME_PATTERN = /^e46-([0-9a-z]+)-([0-9a-z]+)-(client|edge|backend|probe)$/;
const ROLES: readonly HostRole[] = ['client', 'edge', 'backend'];
let sequence = 0;
let cachedCheck: NetnsCheck | undefined;

/** Whether this process can build topologies: Linux, root, iproute2 and sysctl present, `ip netns add` works. */
export function canUseNetns(): NetnsCheck {
  cachedCheck ??= probeNetns();
  return cachedCheck;
}

function probeNetns(): NetnsCheck {
  if (process.platform !== 'linux')
    return { ok: false, reason: `network namespaces need Linux (this is ${process.platform})` };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'network namespaces need root' };
  for (const [bin, arg] of [
    ['ip', '-V'],
    ['sysctl', '--version'],
  ] as const) {
    const r = spawnSync(bin, [arg], { stdio: 'ignore' });
    if (r.error !== undefined || r.status !== 0)
      return { ok: false, reason: `\`${bin}\` is not usable (install iproute2 and procps)` };
  }
  const probe = `${PREFIX}-${process.pid.toString(36)}-x-probe`;
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (add.status !== 0)
    return { ok: false, reason: `\`ip netns add\` failed: ${(add.stderr || String(add.error)).trim()}` };
  spawnSync('ip', ['netns', 'del', probe], { stdio: 'ignore' });
  return { ok: true };
}

/** Minimal part of a tap Test used by requireNetns. */
export interface PlanningTest {
  plan(n: number, comment?: string): void;
  fail(message: string): unknown;
}

/**
 * Call at the top of an e2e test file: true when namespaces are usable. Otherwise the file is skipped
 * with the reason (`t.plan(0, reason)`), except under CI=true, where a missing prerequisite is a failure
 * so that CI never passes by skipping the end-to-end tests.
 */
export function requireNetns(t: PlanningTest): boolean {
  const check = canUseNetns();
  if (check.ok) return true;
  if (process.env.CI === 'true') {
    t.fail(`end-to-end tests must run in CI, but: ${check.reason}`);
  } else {
    t.plan(0, `skipped: ${check.reason}`);
  }
  return false;
}

function listNamespaces(): Promise<string[]> {
  return runChecked(['ip', 'netns', 'list']).then((out) =>
    out
      .split('\n')
      .map((line) => line.trim().split(/\s+/)[0] ?? '')
      .filter((name) => name !== ''),
  );
}

async function killAndDelete(ns: string): Promise<void> {
  const pids = await runCommand(['ip', 'netns', 'pids', ns]);
  for (const pid of pids.stdout.split('\n').map(Number)) {
    if (Number.isInteger(pid) && pid > 1 && pid !== process.pid) signalPid(pid, 'SIGKILL');
  }
  await runCommand(['ip', 'netns', 'del', ns]);
}

/** Namespaces of topologies not closed yet, removed synchronously if this process exits first. */
const openNamespaces = new Set<string[]>();
process.once('exit', () => {
  for (const list of openNamespaces) {
    for (const ns of list) {
      const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '';
      for (const pid of pids.split('\n').map(Number)) {
        if (Number.isInteger(pid) && pid > 1 && pid !== process.pid) signalPid(pid, 'SIGKILL');
      }
      spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    }
  }
});

/** Deletes namespaces of this naming scheme whose creating process no longer exists (crashed runs). */
export async function cleanupStaleNamespaces(): Promise<string[]> {
  const stale = (await listNamespaces()).filter((ns) => {
    const match = NAME_PATTERN.exec(ns);
    if (match?.[1] === undefined) return false;
    const pid = parseInt(match[1], 36);
    return pid !== process.pid && !signalPidAlive(pid);
  });
  for (const ns of stale) await killAndDelete(ns);
  return stale;
}

function signalPidAlive(pid: number): boolean {
  try {
    return signalPid(pid, 0);
  } catch {
    return true; // EPERM: it exists, owned by someone else
  }
}

function makeHost(role: HostRole, ns: string, children: Set<ChildHandle>): Host {
  const ip = async (...args: string[]): Promise<void> => {
    await runChecked(['ip', '-n', ns, ...args]);
  };
  return {
    role,
    ns,
    exec: (cmd, opts = {}) => runCommand(cmd, { ...opts, ns }),
    run: (cmd, opts = {}) => runChecked(cmd, { ...opts, ns }),
    spawn: (cmd, opts = {}) => {
      const child = spawnProcess(cmd, { ...opts, ns });
      children.add(child);
      return child;
    },
    ip,
    addAddress: (cidr, dev) => {
      const v6 = isIPv6(cidr.split('/')[0] ?? '');
      return v6 ? ip('-6', 'addr', 'add', cidr, 'dev', dev, 'nodad') : ip('addr', 'add', cidr, 'dev', dev);
    },
  };
}

function sysctl(ns: string, settings: readonly string[]): Promise<string> {
  return runChecked(['sysctl', '-q', '-w', ...settings], { ns });
}

const backendNet = new BlockList();
backendNet.addSubnet('2001:db8:10::', 64, 'ipv6');

/** Builds the three-host topology; registers its removal as a teardown of `t` when given. */
export async function createTopology(t?: TeardownRegistrar): Promise<Topology> {
  const check = canUseNetns();
  if (!check.ok) throw new Error(`createTopology: ${check.reason}`);
  await cleanupStaleNamespaces();
  const id = `${PREFIX}-${process.pid.toString(36)}-${(sequence++).toString(36)}`;
  const children = new Set<ChildHandle>();
  const [client, edge, backend] = ROLES.map((role) => makeHost(role, `${id}-${role}`, children)) as [
    Host,
    Host,
    Host,
  ];
  const created: string[] = [];

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await Promise.all([...children].map((c) => c.stop({ timeoutMs: 2000 })));
      for (const ns of created) await killAndDelete(ns);
      openNamespaces.delete(created);
    })();
    return closing;
  };
  openNamespaces.add(created);

  const addBackendAddress = async (address: string, prefixLength = 64): Promise<void> => {
    await backend.addAddress(`${address}/${prefixLength}`, LINKS.backend);
    if (!backendNet.check(address, 'ipv6')) {
      await edge.ip(
        '-6',
        'route',
        'replace',
        `${address}/${prefixLength}`,
        'via',
        ADDR.backendV6,
        'dev',
        LINKS.edgeToBackend,
      );
    }
  };

  const addNat46Prefix = async (
    prefix: string,
    opts: { readonly nonlocalBind?: boolean } = {},
  ): Promise<void> => {
    await edge.ip('-6', 'route', 'add', 'local', prefix, 'dev', 'lo');
    await backend.ip('-6', 'route', 'add', prefix, 'via', ADDR.edgeV6, 'dev', LINKS.backend);
    if (opts.nonlocalBind === true) await sysctl(edge.ns, ['net.ipv6.ip_nonlocal_bind=1']);
  };

  const topology: Topology = {
    id,
    client,
    edge,
    backend,
    addr: ADDR,
    addBackendAddress,
    addNat46Prefix,
    close,
  };
  t?.teardown(close);
  try {
    for (const host of [client, edge, backend]) {
      await runChecked(['ip', 'netns', 'add', host.ns]);
      created.push(host.ns);
    }
    // Before any veth exists: no IPv6 at all on the client; no DAD anywhere (addresses usable at once);
    // no forwarding on the edge, so only a terminating proxy connects the two sides.
    await sysctl(client.ns, ['net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    await sysctl(edge.ns, [
      'net.ipv6.conf.all.accept_dad=0',
      'net.ipv6.conf.default.accept_dad=0',
      'net.ipv4.ip_forward=0',
      'net.ipv6.conf.all.forwarding=0',
    ]);
    await sysctl(backend.ns, ['net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);

    await runChecked([
      'ip',
      'link',
      'add',
      LINKS.client,
      'netns',
      client.ns,
      'type',
      'veth',
      'peer',
      'name',
      LINKS.edgeToClient,
      'netns',
      edge.ns,
    ]);
    await runChecked([
      'ip',
      'link',
      'add',
      LINKS.edgeToBackend,
      'netns',
      edge.ns,
      'type',
      'veth',
      'peer',
      'name',
      LINKS.backend,
      'netns',
      backend.ns,
    ]);

    await client.addAddress(`${ADDR.clientV4}/24`, LINKS.client);
    await edge.addAddress(`${ADDR.edgeV4}/24`, LINKS.edgeToClient);
    await edge.addAddress(`${ADDR.edgeV6}/64`, LINKS.edgeToBackend);
    await backend.addAddress(`${ADDR.backendV6}/64`, LINKS.backend);
    await backend.addAddress(`${ADDR.dnsV6}/64`, LINKS.backend);

    await client.ip('link', 'set', 'lo', 'up');
    await client.ip('link', 'set', LINKS.client, 'up');
    await edge.ip('link', 'set', 'lo', 'up');
    await edge.ip('link', 'set', LINKS.edgeToClient, 'up');
    await edge.ip('link', 'set', LINKS.edgeToBackend, 'up');
    await backend.ip('link', 'set', 'lo', 'up');
    // lo gets 127.0.0.1 when it comes up; the backend must have no IPv4 address at all.
    await backend.ip('addr', 'del', '127.0.0.1/8', 'dev', 'lo');
    await backend.ip('link', 'set', LINKS.backend, 'up');
    await client.ip('route', 'add', 'default', 'via', ADDR.edgeV4, 'dev', LINKS.client);
  } catch (err) {
    await close();
    throw err;
  }
  return topology;
}
