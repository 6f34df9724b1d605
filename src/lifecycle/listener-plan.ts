/**
 * Which listeners a reload keeps, opens and closes. Pure: App.reload applies the plan.
 *
 * A running listener is kept (its socket stays bound, its open connections untouched) when the new
 * config has a listener on the same address and protocol; it then takes the new settings and, if it
 * was renamed, the new name. Same name, other address: a new socket is opened and the old one closed.
 * Keeping by address rather than by name means a rename never drops the port, and "port 0" listeners
 * keep the port they were given.
 */
import { parseHostPort } from '../accept/address.js';
import type { ListenerConfig } from '../config/schema.js';

export interface PlannedListener {
  readonly config: ListenerConfig;
}

export type PlanStep<L> =
  | { readonly kind: 'keep'; readonly listener: L; readonly config: ListenerConfig }
  | { readonly kind: 'add'; readonly config: ListenerConfig };

export interface ListenerPlan<L> {
  /** One step per listener of the new config, in its order. */
  readonly steps: readonly PlanStep<L>[];
  /** Running listeners the new config no longer has. */
  readonly remove: readonly L[];
  /** The subset of `remove` bound to a host:port that an added listener needs: close these first. */
  readonly closeFirst: readonly L[];
}

export function planListeners<L extends PlannedListener>(
  running: readonly L[],
  next: readonly ListenerConfig[],
): ListenerPlan<L> {
  const unclaimed = new Set(running);
  const steps: PlanStep<L>[] = [];
  for (const config of next) {
    const key = bindKey(config);
    let found: L | undefined;
    for (const candidate of unclaimed) {
      if (bindKey(candidate.config) !== key) continue;
      if (found === undefined || candidate.config.name === config.name) found = candidate;
      if (candidate.config.name === config.name) break;
    }
    if (found === undefined) {
      steps.push({ kind: 'add', config });
    } else {
      unclaimed.delete(found);
      steps.push({ kind: 'keep', listener: found, config });
    }
  }
  const remove = [...unclaimed];
  const wanted = new Set(
    steps
      .filter((s) => s.kind === 'add')
      .map((s) => hostPort(s.config))
      .filter((k) => k !== null),
  );
  const closeFirst = remove.filter((l) => {
    const k = hostPort(l.config);
    return k !== null && wanted.has(k);
  });
  return { steps, remove, closeFirst };
}

/** Names of listeners whose settings (other than address and protocol) changed. */
export function changedSettings(before: ListenerConfig, after: ListenerConfig): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  const out: string[] = [];
  for (const key of keys) {
    const a = (before as Record<string, unknown>)[key];
    const b = (after as Record<string, unknown>)[key];
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(key);
  }
  return out.sort();
}

function bindKey(config: ListenerConfig): string {
  return `${config.protocol} ${hostPort(config) ?? config.address}`;
}

/** "host:port" for a fixed port; null for port 0 (every port-0 listener gets its own port). */
function hostPort(config: ListenerConfig): string | null {
  const parsed = parseHostPort(config.address);
  if (parsed === null) return config.address;
  if (parsed.port === 0) return null;
  return `${parsed.host.toLowerCase()}:${parsed.port}`;
}
