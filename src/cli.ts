/**
 * Command-line parsing. A contract: later versions add flags, never change these.
 * edge46 [--config FILE] [--check] [--log-level LEVEL] [--log-format FORMAT] [--help] [--version]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

export const USAGE = `Usage: edge46 [options]

Gives IPv4 clients access to services in IPv6-only clusters: TLS routed by SNI, AAAA-only resolution.

Options:
  -c, --config FILE       YAML or JSON configuration (default: the embedded loopback-only default)
      --check             validate the configuration, print every problem, exit 0 (valid) or 1
  -l, --log-level LEVEL   fatal | error | warn | info | debug | trace | silent (overrides the file)
      --log-format FMT    auto | json | pretty (default auto: pretty on a terminal)
  -h, --help              this text
  -v, --version           print the version
`;

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const FORMATS = ['auto', 'json', 'pretty'] as const;
export type CliLevel = (typeof LEVELS)[number];
export type CliFormat = (typeof FORMATS)[number];

export interface CliOptions {
  readonly config: string | undefined;
  readonly check: boolean;
  readonly logLevel: CliLevel | undefined;
  readonly logFormat: CliFormat | undefined;
  readonly help: boolean;
  readonly version: boolean;
}

export type CliParse =
  { readonly ok: true; readonly options: CliOptions } | { readonly ok: false; readonly error: string };

export function parseCli(argv: readonly string[]): CliParse {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string', short: 'c' },
        check: { type: 'boolean', default: false },
        'log-level': { type: 'string', short: 'l' },
        'log-format': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', short: 'v', default: false },
      },
    }));
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  const level = values['log-level'];
  if (level !== undefined && !isOneOf(level, LEVELS))
    return { ok: false, error: `--log-level must be one of ${LEVELS.join(', ')}` };
  const format = values['log-format'];
  if (format !== undefined && !isOneOf(format, FORMATS))
    return { ok: false, error: `--log-format must be one of ${FORMATS.join(', ')}` };
  return {
    ok: true,
    options: {
      config: values.config,
      check: values.check,
      logLevel: level,
      logFormat: format,
      help: values.help,
      version: values.version,
    },
  };
}

function isOneOf<T extends string>(value: string, list: readonly T[]): value is T {
  return (list as readonly string[]).includes(value);
}

/** The package version, read from package.json next to src/ (source) or dist/src/ (built). */
export function packageVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'edge46' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // try the next location
    }
  }
  return 'unknown';
}
