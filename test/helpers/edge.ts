/**
 * The one fixture helper for in-process tests (STYLE.md §10): starts edge46 on 127.0.0.1:0 with the
 * given config, captures its log lines as parsed objects, and closes it at teardown.
 */
import { PassThrough } from 'node:stream';
import { createInterface } from 'node:readline';
import type { Test } from 'tap';
import { App } from '../../src/app.js';
import { formatProblems, validateConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { createLogger } from '../../src/observe/logger.js';
import type { PipeEngine } from '../../src/pipe/engine.js';

export type LogRecord = Record<string, unknown> & { msg?: string; level?: number };

export class LogCapture {
  readonly records: LogRecord[] = [];
  private waiters: { predicate: (r: LogRecord) => boolean; resolve: (r: LogRecord) => void }[] = [];

  constructor(stream: NodeJS.ReadableStream) {
    createInterface({ input: stream }).on('line', (line) => {
      const record = JSON.parse(line) as LogRecord;
      this.records.push(record);
      this.waiters = this.waiters.filter((w) => {
        if (!w.predicate(record)) return true;
        w.resolve(record);
        return false;
      });
    });
  }

  /** Resolves with the first record (past or future) that matches; driven by log events, not polling. */
  waitFor(predicate: (r: LogRecord) => boolean): Promise<LogRecord> {
    const found = this.records.find(predicate);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve) => this.waiters.push({ predicate, resolve }));
  }

  /** The n-th (0-based) "connection closed" record. */
  connection(n = 0): Promise<LogRecord> {
    let seen = -1;
    return this.waitFor((r) => r.msg === 'connection closed' && ++seen === n);
  }

  closed(): LogRecord[] {
    return this.records.filter((r) => r.msg === 'connection closed');
  }
}

export interface Edge {
  readonly app: App;
  readonly logs: LogCapture;
  /** Port of the named listener (default: the first). */
  port(name?: string): number;
}

export function testConfig(overrides: Partial<ConfigInput> = {}): ConfigInput {
  return {
    listeners: [{ name: 'tls', address: '127.0.0.1:0', protocol: 'tls', backendPort: 443 }],
    backends: { allow: ['::1/128'], deny: [] },
    resolver: { servers: ['127.0.0.1:1'], timeoutMs: 500, attempts: 1 },
    log: { level: 'debug', format: 'json' },
    ...overrides,
  };
}

export async function withEdge(t: Test, input: ConfigInput, opts: { pipe?: PipeEngine } = {}): Promise<Edge> {
  const validated = validateConfig(input);
  if (!validated.ok) throw new Error(`test config invalid:\n${formatProblems(validated.problems)}`);
  const stream = new PassThrough();
  const logs = new LogCapture(stream);
  const logger = createLogger({ level: validated.config.log.level, format: 'json', destination: stream });
  const app = await App.start(validated.config, {
    logger,
    ...(opts.pipe === undefined ? {} : { pipe: opts.pipe }),
  });
  // Connections a test leaves open get a grace to finish like in production; only then are they reset
  // (a reset would surface as ECONNRESET on the test's own client sockets).
  t.teardown(() => app.close({ graceMs: 5000 }));
  return {
    app,
    logs,
    port(name?: string): number {
      const addresses = app.addresses();
      const address = name === undefined ? addresses.values().next().value : addresses.get(name);
      if (address === undefined) throw new Error(`no listener ${name ?? '(first)'}`);
      return address.port;
    },
  };
}
