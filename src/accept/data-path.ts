/**
 * The state every connection reads at its start: route table, resolver, allowlist, pipe engine.
 * A reload builds a new DataPathState and swaps it with one assignment (STYLE.md §6); connections
 * already running keep the snapshot they started with.
 */
import type { Config, ListenerConfig } from '../config/schema.js';
import type { UpstreamPools } from '../http/upstream-pools.js';
import type { Metrics } from '../observe/metrics.js';
import type { PipeEngine } from '../pipe/engine.js';
import type { AddressPolicy } from '../resolve/address-policy.js';
import type { AaaaResolver } from '../resolve/resolver.js';
import type { RouteTable } from '../route/route-table.js';
import type { Terminator } from '../tls/terminator.js';

export interface DataPathState {
  readonly config: Config;
  readonly routes: RouteTable;
  readonly policy: AddressPolicy;
  readonly resolver: AaaaResolver;
  readonly pipe: PipeEngine;
}

export interface DataPath {
  current(): DataPathState;
  /** Lives across reloads; absent in tests that build a DataPath by hand. */
  readonly metrics?: Metrics;
  /** Backend pools of http listeners; lives across reloads. Required by http listeners. */
  readonly upstreams?: UpstreamPools;
  /** TLS termination for terminate routes on tls listeners; lives across reloads. */
  readonly terminator?: Terminator | undefined;
}

export interface ListenerRuntime {
  readonly config: ListenerConfig;
  /** The port actually bound (differs from the config when it says 0). */
  readonly port: number;
}
