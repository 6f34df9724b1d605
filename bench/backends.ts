/**
 * The backends every system forwards to, on [::1] and pinned to the load CPU: two passthrough backends
 * (A and B, so routing is checked) and an HTTP/1.1 keep-alive server, all the C helper; plus dnsmasq on
 * [::1] answering AAAA for edge46's name route when dnsmasq is installed (otherwise a literal route).
 */
import { writeFileSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LoadHelper } from './load.js';
import { commandPath } from './peers.js';
import { freePort, Proc } from './procs.js';

export interface Backends {
  readonly ports: { readonly a: number; readonly b: number; readonly http: number };
  readonly dnsPort: number | null;
  stop(): Promise<void>;
}

export async function startBackends(
  load: LoadHelper,
  dir: string,
  cpu: string | undefined,
): Promise<Backends> {
  const procs: Proc[] = [];
  try {
    const [a, b, http] = [await freePort('::1'), await freePort('::1'), await freePort('::1')];
    procs.push(await load.serve('backend-a', `[::1]:${a}`));
    procs.push(await load.serve('backend-b', `[::1]:${b}`));
    procs.push(await load.serve('backend-http', `[::1]:${http}`, { http: true }));
    const dns = await startDnsmasq(dir, cpu);
    if (dns !== null) procs.push(dns.proc);
    return {
      ports: { a, b, http },
      dnsPort: dns?.port ?? null,
      stop: async () => {
        await Promise.all(procs.map((p) => p.stop()));
      },
    };
  } catch (err) {
    await Promise.all(procs.map((p) => p.stop()));
    throw err;
  }
}

async function startDnsmasq(
  dir: string,
  cpu: string | undefined,
): Promise<{ proc: Proc; port: number } | null> {
  const bin = commandPath('dnsmasq') ?? commandPath('/usr/sbin/dnsmasq');
  if (bin === null) return null;
  const port = await freePort('::1');
  const conf = join(dir, 'dnsmasq.conf');
  writeFileSync(
    conf,
    [
      `port=${port}`,
      'listen-address=::1',
      'bind-interfaces',
      'no-resolv',
      'no-hosts',
      'local=/bench.test/',
      'host-record=a.bench.test,::1,3600',
      '',
    ].join('\n'),
  );
  const proc = Proc.start({
    name: 'dnsmasq',
    cmd: bin,
    args: ['--keep-in-foreground', `--conf-file=${conf}`, '--pid-file=', '--user=root'],
    cpu,
  });
  const resolver = new Resolver({ timeout: 200, tries: 1 });
  resolver.setServers([`[::1]:${port}`]);
  for (let i = 0; i < 50 && proc.alive; i++) {
    const answer = await resolver.resolve6('a.bench.test').catch(() => null);
    if (answer?.[0] === '::1') return { proc, port };
    await sleep(50);
  }
  await proc.stop();
  return null;
}
