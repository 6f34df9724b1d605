#!/usr/bin/env node
/**
 * CLI entry: parse flags → load config → start the app; SIGINT/SIGTERM → graceful close, a second
 * signal exits at once.
 */
import { App } from './app.js';
import { packageVersion, parseCli, USAGE } from './cli.js';
import { DEFAULT_CONFIG_YAML } from './config/default.js';
import { formatProblems, loadConfigFile, parseConfigText, type ConfigResult } from './config/load.js';
import { createLogger } from './observe/logger.js';

/** Open connections get this long to finish after SIGTERM before they are reset. */
const SHUTDOWN_GRACE_MS = 10_000;

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
    process.stdout.write(
      `${source}: OK (${config.listeners.length} listener(s), ${config.routes.length} route(s))\n`,
    );
    return 0;
  }
  const logger = createLogger({
    level: opts.logLevel ?? config.log.level,
    format: opts.logFormat ?? config.log.format,
  });
  logger.info({ version: packageVersion(), config: source, node: process.version }, 'edge46 starting');
  let app: App;
  try {
    app = await App.start(config, { logger });
  } catch (err) {
    logger.fatal({ err }, 'start failed');
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal, open: app.connections }, 'shutting down');
      app.close({ graceMs: SHUTDOWN_GRACE_MS }).then(
        () => resolve(0),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error('edge46: fatal:', err);
    process.exitCode = 1;
  },
);
