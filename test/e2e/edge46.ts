/**
 * edge46 as a real process for end-to-end tests: `node dist/src/main.js --config FILE` inside a test
 * namespace, its JSON log lines parsed. `npm test` builds dist/ before the suite runs.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Host } from '../helpers/netns.js';
import type { ChildHandle, ExitInfo, JsonRecord, TeardownRegistrar } from '../helpers/process.js';

export const MAIN_JS = fileURLToPath(new URL('../../dist/src/main.js', import.meta.url));

export interface Edge46Process {
  readonly child: ChildHandle;
  readonly configFile: string;
  /** The `listening` records, one per listener. */
  readonly listening: readonly JsonRecord[];
  /** Index to pass as `from` so that only later log lines count. */
  mark(): number;
  /** The first `connection closed` record at or after `from` that matches. */
  connectionClosed(
    from: number,
    match: (record: JsonRecord) => boolean,
    timeoutMs?: number,
  ): Promise<JsonRecord>;
  /** SIGTERM, SIGKILL (the whole process tree) after 5 s. */
  stop(): Promise<ExitInfo>;
}

/**
 * Writes `configYaml` to a temp file, starts edge46 on `host` and resolves once every one of its
 * `listenerCount` listeners has logged `listening`.
 */
export async function startEdge46(
  t: TeardownRegistrar,
  host: Host,
  configYaml: string,
  opts: { readonly listenerCount?: number; readonly startTimeoutMs?: number } = {},
): Promise<Edge46Process> {
  if (!existsSync(MAIN_JS))
    throw new Error(`${MAIN_JS} is missing: run \`npm run build\` first (npm test does)`);
  const dir = await mkdtemp(join(tmpdir(), 'edge46-e2e-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const configFile = join(dir, 'edge46.yaml');
  // No load balancer watches these test hosts: unless a test sets its own, drain without the announce
  // window so that stop() (SIGTERM, then SIGKILL after 5 s) sees a clean exit.
  const drain = /^drain:/m.test(configYaml) ? '' : '\ndrain: { announceSeconds: 0, timeoutSeconds: 2 }\n';
  await writeFile(configFile, `${configYaml}${drain}`);
  // The default child environment drops the test runner's loaders and coverage hooks.
  const child = host.spawn([process.execPath, MAIN_JS, '--config', configFile], {
    name: `edge46@${host.ns}`,
    stopTimeoutMs: 5000,
  });
  t.teardown(() => child.stop());
  const wanted = opts.listenerCount ?? 1;
  const timeout = opts.startTimeoutMs ?? 15_000;
  let seen = 0; // each line is offered to the predicate once, in order
  await child.waitForJson((r) => r.msg === 'listening' && ++seen === wanted, timeout);
  const listening = child.jsonLines().filter((r) => r.msg === 'listening');
  return {
    child,
    configFile,
    listening,
    mark: () => child.stdout.length,
    connectionClosed: (from, match, timeoutMs = 10_000) =>
      child.waitForJson((r) => r.msg === 'connection closed' && match(r), timeoutMs, { from }),
    stop: () => child.stop(),
  };
}
