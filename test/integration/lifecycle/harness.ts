/**
 * In-process reload rig: the App started from a file, and the Reloader watching that file, wired the
 * way lifecycle/single.ts wires them (without process signals).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Test } from 'tap';
import { App } from '../../../src/app.js';
import { formatProblems, loadConfigFile } from '../../../src/config/load.js';
import { describeReload, Reloader } from '../../../src/lifecycle/reload.js';
import { createLogger } from '../../../src/observe/logger.js';
import { LogCapture } from '../../helpers/edge.js';
import { PromText } from '../../helpers/ops.js';

export interface ReloadRig {
  readonly app: App;
  readonly logs: LogCapture;
  readonly reloader: Reloader;
  readonly file: string;
  /** Writes the file; the watcher notices. */
  write(yaml: string): Promise<void>;
  /** Resolves with the next reload record logged after now (applied or rejected). */
  nextReload(): Promise<Record<string, unknown>>;
  port(listener: string): number;
  reloads(result: 'success' | 'failure'): Promise<number | undefined>;
}

export async function withReloadingEdge(t: Test, yaml: string): Promise<ReloadRig> {
  const dir = await mkdtemp(join(tmpdir(), 'edge46-reload-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'edge46.yaml');
  await writeFile(file, yaml);
  const loaded = await loadConfigFile(file);
  if (!loaded.ok) throw new Error(`test config invalid:\n${formatProblems(loaded.problems)}`);
  const stream = new PassThrough();
  const logs = new LogCapture(stream);
  const logger = createLogger({ level: 'debug', format: 'json', destination: stream });
  const app = await App.start(loaded.config, { logger });
  t.teardown(() => app.close({ graceMs: 0 }));
  const reloader = new Reloader({
    file,
    log: logger,
    metrics: app.metrics,
    apply: async (config) => describeReload(await app.reload(config)),
    debounceMs: 50,
  });
  await reloader.start();
  t.teardown(() => reloader.close());
  return {
    app,
    logs,
    reloader,
    file,
    write: (text) => writeFile(file, text),
    nextReload: () => {
      const from = logs.records.length;
      let index = -1;
      return logs.waitFor(
        (r) =>
          ++index >= from &&
          typeof r.msg === 'string' &&
          (r.msg.startsWith('config reloaded') || r.msg.startsWith('config reload rejected')),
      );
    },
    port: (name) => {
      const address = app.addresses().get(name);
      if (address === undefined) throw new Error(`no listener ${name}`);
      return address.port;
    },
    reloads: async (result) =>
      new PromText(await app.metrics.text()).get('edge46_config_reloads_total', { result }),
  };
}
