/**
 * The live route table as /routes shows it, with each cached resolution placed under the route that
 * produced it. The cache is keyed by backend name (the expanded target), so a name is attributed to a
 * route by matching the route's target template and checking that the route table would really send
 * the implied requested name there.
 */
import type { CacheSnapshotEntry } from '../resolve/resolver.js';
import type { CompiledRoute, RouteTable } from '../route/route-table.js';

export interface RouteView {
  /** As configured ("*.svc.c2.k8s.example"). */
  readonly pattern: string;
  readonly target: string;
  /** Backend port from the route; null: the listener's backendPort (or its own port). */
  readonly port: number | null;
  readonly kind: 'exact' | 'wildcard' | 'catch-all';
  /** The literal address for a literal target (never resolved). */
  readonly literal: string | null;
  readonly resolutions: readonly ResolutionView[];
}

export type ResolutionView = CacheSnapshotEntry & { readonly worker?: number };

export function attributeResolutions(
  table: RouteTable,
  entries: readonly CacheSnapshotEntry[],
): { routes: RouteView[]; other: CacheSnapshotEntry[] } {
  const byRoute = new Map<CompiledRoute, CacheSnapshotEntry[]>();
  const other: CacheSnapshotEntry[] = [];
  for (const entry of entries) {
    const route = table.routes.find((r) => produces(table, r, entry.name));
    if (route === undefined) other.push(entry);
    else byRoute.set(route, [...(byRoute.get(route) ?? []), entry]);
  }
  const routes = table.routes.map((route) => ({
    pattern: route.pattern,
    target: route.target,
    port: route.port ?? null,
    kind:
      route.pattern === '*'
        ? ('catch-all' as const)
        : route.pattern.startsWith('*.')
          ? ('wildcard' as const)
          : ('exact' as const),
    literal: route.literal?.address ?? null,
    resolutions: (byRoute.get(route) ?? []).sort((a, b) => a.name.localeCompare(b.name)),
  }));
  return { routes, other: other.sort((a, b) => a.name.localeCompare(b.name)) };
}

/** Does `route` turn some requested name into the backend name `name`? */
export function produces(table: RouteTable, route: CompiledRoute, name: string): boolean {
  if (route.literal !== null) return false;
  const template = route.target.toLowerCase().replace(/\.$/, '');
  const placeholders: string[] = template.match(/\{(host|sub)\}/g) ?? [];
  if (placeholders.length === 0) return template === name;
  const source = template
    .split(/(\{host\}|\{sub\})/)
    .map((part) => (part === '{host}' || part === '{sub}' ? '(.+?)' : escapeRegExp(part)))
    .join('');
  const match = new RegExp(`^${source}$`).exec(name);
  if (match === null) return false;
  const hostAt = placeholders.indexOf('{host}');
  const subAt = placeholders.indexOf('{sub}');
  let requested: string;
  if (hostAt >= 0) requested = match[hostAt + 1] ?? '';
  else if (route.pattern === '*') requested = match[subAt + 1] ?? '';
  else requested = `${match[subAt + 1] ?? ''}${route.pattern.slice(1)}`;
  const lookup = table.lookup(requested);
  return (
    lookup.ok &&
    lookup.match.route === route &&
    lookup.match.target.kind === 'name' &&
    lookup.match.target.name === name
  );
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
