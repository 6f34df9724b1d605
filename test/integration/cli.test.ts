/**
 * The CLI contract, run against the built entry point (`npm test` builds dist/ first): --help,
 * --version, --check with every problem listed by path, and the embedded default actually serving.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const MAIN = fileURLToPath(new URL('../../dist/src/main.js', import.meta.url));
const skip = existsSync(MAIN) ? false : 'dist/ is not built: run `npm run build` (npm test does)';

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [MAIN, ...args],
      { env: { ...process.env, NODE_OPTIONS: '' } },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function tempFile(
  t: { teardown(fn: () => unknown): void },
  name: string,
  text: string,
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'edge46-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

t.test('--help and --version', { skip }, async (t) => {
  const help = await run(['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /--config FILE/);
  const version = await run(['--version']);
  t.equal(version.code, 0);
  t.match(version.stdout, /^edge46 \d+\.\d+\.\d+\n$/);
  const bad = await run(['--frobnicate']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /frobnicate/);
});

t.test('--check accepts a valid file and lists every problem of a bad one', { skip }, async (t) => {
  const good = await tempFile(
    t,
    'good.yaml',
    'listeners: [{ name: a, address: "127.0.0.1:8443", protocol: tls }]\nroutes: [{ host: "*", target: "{host}" }]\n',
  );
  const ok = await run(['--check', '--config', good]);
  t.equal(ok.code, 0);
  t.match(ok.stdout, /OK \(1 listener\(s\), 1 route\(s\)\)/);

  const bad = await tempFile(
    t,
    'bad.yaml',
    'listeners: [{ name: a, address: "nowhere", protocol: tls, bogus: 1 }]\nroutes: [{ host: "x.example", target: "{sub}" }, { host: "*", target: "[192.0.2.1]:443" }]\n',
  );
  const result = await run(['--check', '--config', bad]);
  t.equal(result.code, 1);
  t.match(result.stderr, /listeners\[0\]\.bogus: unknown key/);
  t.equal(result.stdout, '', 'nothing on stdout');
  // Schema errors are reported first; a file with only cross-field errors lists them all.
  const cross = await tempFile(
    t,
    'cross.yaml',
    'listeners: [{ name: a, address: "nowhere", protocol: tls }]\nroutes: [{ host: "x.example", target: "{sub}" }, { host: "*", target: "[192.0.2.1]:443" }]\n',
  );
  const crossResult = await run(['--check', '--config', cross]);
  t.equal(crossResult.code, 1);
  t.match(crossResult.stderr, /listeners\[0\]\.address/);
  t.match(crossResult.stderr, /routes\[0\]\.target/);
  t.match(crossResult.stderr, /routes\[1\]\.target/);

  const missing = await run(['--check', '--config', '/nonexistent/edge46.yaml']);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /cannot read/);
});

t.test('an invalid file never starts the proxy', { skip }, async (t) => {
  const bad = await tempFile(
    t,
    'bad.yaml',
    'listeners: [{ name: a, address: "127.0.0.1:0", protocol: tls }]\nbackends: { allow: ["nonsense"] }\n',
  );
  const result = await run(['--config', bad]);
  t.equal(result.code, 1);
  t.notMatch(result.stdout, /listening/);
});

t.test(
  'with no --config the embedded default listens on loopback and stops on SIGTERM',
  { skip },
  async (t) => {
    const child = spawn(process.execPath, [MAIN, '--log-format', 'json'], {
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.teardown(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    const records: Record<string, unknown>[] = [];
    const started = new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        const record = JSON.parse(line) as Record<string, unknown>;
        records.push(record);
        if (typeof record.msg === 'string' && record.msg.startsWith('edge46 started')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`exited early with ${String(code)}`)));
    });
    await started;
    t.match(
      records.find((r) => r.msg === 'listening'),
      { listener: 'tls', address: '127.0.0.1:8443' },
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    t.equal(await exited, 0, 'graceful exit 0');
    t.ok(records.some((r) => r.msg === 'edge46 stopped'));
  },
);
