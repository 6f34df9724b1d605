/**
 * The root logger. JSON lines to stdout (one object per event), or pino-pretty when stdout is a
 * terminal or `--log-format pretty`. Per-connection child loggers are made in accept/.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };
export type LogFormat = 'auto' | 'json' | 'pretty';

export interface LoggerOptions {
  readonly level: LevelWithSilent;
  readonly format: LogFormat;
  /** Where JSON lines go; default stdout. Tests pass a stream to parse log objects. */
  readonly destination?: NodeJS.WritableStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  const base = { level: opts.level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  if (opts.destination !== undefined) return pino(base, opts.destination);
  const usePretty = opts.format === 'pretty' || (opts.format === 'auto' && process.stdout.isTTY === true);
  if (usePretty) return pino(base, pretty({ colorize: process.stdout.isTTY === true, sync: true }));
  return pino(base, pino.destination({ dest: 1, sync: true }));
}
