/**
 * nginx (Debian's package, installed by .ci/run) as a real backend in a test namespace: its own config,
 * pid file and temp paths under a temp dir, never the system service. The access log is one JSON object
 * per request (`msg: "access"`) written to a FIFO that a `cat` child reads, so tests wait on it as an
 * event. (nginx cannot open /dev/stdout when it is the socketpair node gives a child: ENXIO.)
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Host } from '../helpers/netns.js';
import {
  runChecked,
  spawnProcess,
  type ChildHandle,
  type JsonRecord,
  type TeardownRegistrar,
} from '../helpers/process.js';

export interface Nginx {
  readonly child: ChildHandle;
  /** The reader of the access-log FIFO; its stdout lines are the access log. */
  readonly accessLog: ChildHandle;
  readonly dir: string;
  /** Index to pass as `from` so that only later access-log lines count. */
  mark(): number;
  /** The first access-log record at or after `from` that matches. */
  access(from: number, match: (record: JsonRecord) => boolean, timeoutMs?: number): Promise<JsonRecord>;
  stop(): Promise<void>;
}

// Fields the e2e tests assert on: the peer (remote_addr), the PROXY protocol source, forwarding headers.
const ACCESS_FORMAT = [
  '"msg":"access"',
  '"remote_addr":"$remote_addr"',
  '"proxy_protocol_addr":"$proxy_protocol_addr"',
  '"proxy_protocol_port":"$proxy_protocol_port"',
  '"x_forwarded_for":"$http_x_forwarded_for"',
  '"x_forwarded_proto":"$http_x_forwarded_proto"',
  '"x_forwarded_host":"$http_x_forwarded_host"',
  '"forwarded":"$http_forwarded"',
  '"host":"$host"',
  '"request":"$request"',
  '"status":$status',
  '"server_addr":"$server_addr"',
  '"server_port":"$server_port"',
  '"ssl_server_name":"$ssl_server_name"',
].join(',');

/**
 * Starts nginx on `host` with `servers` (raw `server { … }` blocks for the http context) and resolves
 * once its worker runs. Paths inside the blocks may use `{dir}` for the temp dir (certificates, roots).
 */
export async function startNginx(
  t: TeardownRegistrar,
  host: Host,
  servers: string,
  opts: { readonly startTimeoutMs?: number } = {},
): Promise<Nginx> {
  const dir = await mkdtemp(join(tmpdir(), 'edge46-nginx-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const fifo = join(dir, 'access.fifo');
  await runChecked(['mkfifo', fifo]);
  // Reader first: nginx's open() of the FIFO for writing waits for one.
  const accessLog = spawnProcess(['cat', fifo], { name: 'nginx-access-log', t });
  const conf = `
daemon off;
master_process on;
worker_processes 1;
user root;
pid ${dir}/nginx.pid;
error_log stderr notice;
events { worker_connections 256; }
http {
  log_format edge46 escape=json '{${ACCESS_FORMAT}}';
  access_log ${fifo} edge46;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  default_type text/plain;
${servers.replaceAll('{dir}', dir)}
}
`;
  const confFile = join(dir, 'nginx.conf');
  await writeFile(confFile, conf);
  const child = host.spawn(['nginx', '-p', dir, '-c', confFile, '-e', 'stderr'], {
    name: `nginx@${host.ns}`,
    stopTimeoutMs: 3000,
  });
  t.teardown(() => child.stop());
  // The master binds every listener before it starts the worker, which it logs at notice level.
  await child.waitForLine((l) => l.includes('start worker process'), opts.startTimeoutMs ?? 10_000, {
    stream: 'stderr',
  });
  return {
    child,
    accessLog,
    dir,
    mark: () => accessLog.stdout.length,
    access: (from, match, timeoutMs = 10_000) =>
      accessLog.waitForJson((r) => r.msg === 'access' && match(r), timeoutMs, { from }),
    stop: async () => {
      await child.stop();
    },
  };
}
