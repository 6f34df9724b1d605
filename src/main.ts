#!/usr/bin/env node
/**
 * CLI entry: parse flags → load config → run: one process (`workers: 1`, lifecycle/single.ts) or a
 * cluster primary with N workers (cluster/primary.ts); a cluster worker runs cluster/worker.ts and
 * takes its config from the primary. Signals: SIGHUP reloads, SIGTERM/SIGINT drain, a second one
 * exits at once.
 */
import cluster from 'node:cluster';
import { packageVersion, parseCli, USAGE } from './cli.js';
import { runPrimary } from './cluster/primary.js';
import { resolveWorkerCount } from './cluster/worker-count.js';
import { runWorker } from './cluster/worker.js';
import { checkFiles } from './config/check-files.js';
import { DEFAULT_CONFIG_YAML } from './config/default.js';
import { formatProblems, loadConfigFile, parseConfigText, type ConfigResult } from './config/load.js';
import { runSingleProcess } from './lifecycle/single.js';
import { createLogger } from './observe/logger.js';

/** After main() resolves, anything still holding the event loop gets this long before exit. */
const EXIT_GRACE_MS = 2_000;

async function main(argv: readonly string[]): Promise<number> {
  const cli = parseCli(argv);
  if (!cli.ok) {
    process.stderr.write(`edge46: ${cli.error}\n\n${USAGE}`);
    return 2;
  }
  const opts = cli.options;
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (opts.version) {
    process.stdout.write(`edge46 ${packageVersion()}\n`);
    return 0;
  }
  if (cluster.isWorker) return runWorker({ cliLogLevel: opts.logLevel, cliLogFormat: opts.logFormat });
  const source = opts.config ?? '(embedded default)';
  const loaded: ConfigResult =
    opts.config === undefined ? parseConfigText(DEFAULT_CONFIG_YAML) : await loadConfigFile(opts.config);
  if (!loaded.ok) {
    process.stderr.write(
      `edge46: ${source}: ${loaded.problems.length} problem(s)\n${formatProblems(loaded.problems)}\n`,
    );
    return 1;
  }
  const config = loaded.config;
  if (opts.check) {
    const fileProblems = await checkFiles(config);
    if (fileProblems.length > 0) {
      process.stderr.write(
        `edge46: ${source}: ${fileProblems.length} problem(s)\n${formatProblems(fileProblems)}\n`,
      );
      return 1;
    }
    process.stdout.write(
      `${source}: OK (${config.listeners.length} listener(s), ${config.routes.length} route(s))\n`,
    );
    return 0;
  }
  const logger = createLogger({
    level: opts.logLevel ?? config.log.level,
    format: opts.logFormat ?? config.log.format,
  });
  const workers = resolveWorkerCount(config.workers);
  logger.info(
    { version: packageVersion(), config: source, node: process.version, workers },
    'edge46 starting',
  );
  const run = { config, configFile: opts.config, logger, cliLogLevel: opts.logLevel };
  return workers > 1 ? runPrimary({ ...run, workers }) : runSingleProcess(run);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // A worker's IPC channel would keep it alive; its logs are written synchronously.
    if (cluster.isWorker) process.exit(code);
    setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
  },
  (err: unknown) => {
    console.error('edge46: fatal:', err);
    process.exitCode = 1;
  },
);
