/**
 * Wires the stages and owns the lifecycle: start (bind every listener or none), close (stop accepting,
 * let open connections finish for a bounded time, then reset what is left). close() is idempotent and
 * safe after a partial start (STYLE.md §9).
 */
import type { AddressInfo } from 'node:net';
import type { DataPath, DataPathState } from './accept/data-path.js';
import { ProxyListener } from './accept/listener.js';
import type { Config } from './config/schema.js';
import { checkNat46AtStart, nat46Prefixes } from './connect/nat46.js';
import type { Logger } from './observe/logger.js';
import type { PipeEngine } from './pipe/engine.js';
import { createJsEngine } from './pipe/js-engine.js';
import { AddressPolicy } from './resolve/address-policy.js';
import { AaaaResolver } from './resolve/resolver.js';
import { RouteTable } from './route/route-table.js';

export interface AppOptions {
  readonly logger: Logger;
  /** Overrides the pipe engine (tests and the benchmark). */
  readonly pipe?: PipeEngine;
}

export class App implements DataPath {
  private state: DataPathState;
  private readonly listeners: ProxyListener[] = [];
  private closing: Promise<void> | null = null;

  private constructor(
    config: Config,
    private readonly log: Logger,
    pipe: PipeEngine,
  ) {
    this.state = buildState(config, pipe);
  }

  /** Binds every listener; if one fails, the ones already bound are closed and the error is thrown. */
  static async start(config: Config, opts: AppOptions): Promise<App> {
    // Before any listener binds: a NAT46 prefix that cannot be used fails the start with the reason.
    await checkNat46AtStart(config, opts.logger);
    const app = new App(config, opts.logger, opts.pipe ?? createJsEngine());
    try {
      for (const listenerConfig of config.listeners) {
        const listener = new ProxyListener(listenerConfig, app, opts.logger);
        app.listeners.push(listener);
        await listener.start();
      }
    } catch (err) {
      await app.close({ graceMs: 0 });
      throw err;
    }
    opts.logger.info(
      { listeners: app.listeners.length, routes: app.state.routes.size, pipe: app.state.pipe.name },
      `edge46 started: ${app.listeners.length} listener(s), ${app.state.routes.size} route(s)`,
    );
    return app;
  }

  current(): DataPathState {
    return this.state;
  }

  /** The bound address of each listener, by name. */
  addresses(): Map<string, AddressInfo> {
    const out = new Map<string, AddressInfo>();
    for (const listener of this.listeners) {
      const address = listener.address;
      if (address !== null) out.set(listener.config.name, address);
    }
    return out;
  }

  get connections(): number {
    return this.listeners.reduce((sum, l) => sum + l.connections, 0);
  }

  /** Stops accepting, waits up to graceMs for open connections, resets the rest. Idempotent. */
  close(opts: { graceMs: number }): Promise<void> {
    this.closing ??= this.doClose(opts.graceMs);
    return this.closing;
  }

  private async doClose(graceMs: number): Promise<void> {
    await Promise.all(this.listeners.map((l) => l.stopAccepting()));
    const idle = Promise.all(this.listeners.map((l) => l.whenIdle()));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>(
      (resolve) => (timer = setTimeout(() => resolve('deadline'), graceMs)),
    );
    const first = await Promise.race([idle.then(() => 'idle' as const), deadline]);
    clearTimeout(timer);
    if (first === 'deadline' && this.connections > 0) {
      this.log.warn({ open: this.connections }, 'grace period over: resetting open connections');
      for (const listener of this.listeners) listener.abortAll();
      await idle;
    }
    this.state.resolver.close();
    this.log.info('edge46 stopped');
  }
}

function buildState(config: Config, pipe: PipeEngine): DataPathState {
  const policy = AddressPolicy.create({
    allow: config.backends.allow,
    deny: config.backends.deny,
    reservedPrefixes: nat46Prefixes(config),
  });
  const r = config.resolver;
  const resolver = new AaaaResolver({
    ...(r.servers === undefined ? {} : { servers: r.servers }),
    timeoutMs: r.timeoutMs,
    attempts: r.attempts,
    minTtlSeconds: r.minTtlSeconds,
    maxTtlSeconds: r.maxTtlSeconds,
    negativeTtlSeconds: r.negativeTtlSeconds,
    staleSeconds: r.staleSeconds,
  });
  return { config, routes: RouteTable.build(config.routes), policy, resolver, pipe };
}
