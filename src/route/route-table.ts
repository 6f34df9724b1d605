/**
 * The immutable route table (STYLE.md §6): exact names, then the longest wildcard suffix, then "*".
 * Built once per configuration; the data path reads the current snapshot and a reload swaps it whole.
 */
import { isIP } from 'node:net';
import { parseHostPort } from '../accept/address.js';
import type { RouteConfig } from '../config/schema.js';
import { normalizeHostname } from './hostname.js';

/** What a route's target resolves to once a request name is applied. */
export type Target =
  { readonly kind: 'name'; readonly name: string } | { readonly kind: 'address'; readonly address: string };

export interface CompiledRoute {
  /** The pattern as configured, e.g. "*.svc.c2.k8s.example"; safe as a metrics label. */
  readonly pattern: string;
  readonly index: number;
  readonly target: string;
  readonly port: number | undefined;
  readonly literal: { readonly address: string; readonly port: number | undefined } | null;
}

export interface RouteMatch {
  readonly route: CompiledRoute;
  readonly target: Target;
  /** Backend port from the route (route.port, else a literal target's port); undefined: listener's. */
  readonly port: number | undefined;
}

export type RouteLookup =
  | { readonly ok: true; readonly match: RouteMatch }
  | { readonly ok: false; readonly reason: 'no-route' | 'bad-target' };

export class RouteTable {
  private readonly exact = new Map<string, CompiledRoute>();
  /** Keyed by suffix without the leading "*."; "" is the catch-all "*". */
  private readonly wildcards = new Map<string, CompiledRoute>();
  readonly routes: readonly CompiledRoute[];

  private constructor(routes: readonly CompiledRoute[]) {
    this.routes = routes;
    for (const route of routes) {
      if (route.pattern === '*') this.wildcards.set('', route);
      else if (route.pattern.startsWith('*.')) this.wildcards.set(route.pattern.slice(2), route);
      else this.exact.set(route.pattern, route);
    }
  }

  /** Builds from validated config; the first of two identical patterns wins (validation rejects them). */
  static build(routes: readonly RouteConfig[]): RouteTable {
    const compiled: CompiledRoute[] = [];
    const seen = new Set<string>();
    routes.forEach((route, index) => {
      const pattern = route.host.toLowerCase();
      if (seen.has(pattern)) return;
      seen.add(pattern);
      const literal = parseHostPort(route.target, { portRequired: false });
      compiled.push({
        pattern,
        index,
        target: route.target,
        port: route.port ?? (literal !== null && literal.port !== 0 ? literal.port : undefined),
        literal: literal === null ? null : { address: literal.host, port: literal.port || undefined },
      });
    });
    return new RouteTable(compiled);
  }

  get size(): number {
    return this.routes.length;
  }

  /** `name` must already be normalised (normalizeHostname). */
  lookup(name: string): RouteLookup {
    const found = this.find(name);
    if (found === null) return { ok: false, reason: 'no-route' };
    const { route, sub } = found;
    if (route.literal !== null) {
      return {
        ok: true,
        match: { route, target: { kind: 'address', address: route.literal.address }, port: route.port },
      };
    }
    const expanded = expandTarget(route.target, name, sub);
    const checked = normalizeHostname(expanded, { allowTrailingDot: true });
    if (!checked.ok) return { ok: false, reason: 'bad-target' };
    return { ok: true, match: { route, target: { kind: 'name', name: checked.name }, port: route.port } };
  }

  private find(name: string): { route: CompiledRoute; sub: string } | null {
    const exact = this.exact.get(name);
    if (exact !== undefined) return { route: exact, sub: '' };
    // Walk suffixes from the longest (drop one label) to the shortest: the first hit is the longest
    // configured wildcard suffix. "*.x" needs at least one label before ".x", so "x" itself never matches.
    let dot = name.indexOf('.');
    while (dot >= 0) {
      const route = this.wildcards.get(name.slice(dot + 1));
      if (route !== undefined) return { route, sub: name.slice(0, dot) };
      dot = name.indexOf('.', dot + 1);
    }
    const any = this.wildcards.get('');
    return any === undefined ? null : { route: any, sub: name };
  }
}

/** Substitutes {host} (the full requested name) and {sub} (the labels matched by "*"). */
export function expandTarget(template: string, host: string, sub: string): string {
  return template.replaceAll('{host}', host).replaceAll('{sub}', sub);
}

/** Validation helper for config: the reasons a route is unusable, empty when it is fine. */
export function routeProblems(route: RouteConfig): { path: 'host' | 'target'; message: string }[] {
  const problems: { path: 'host' | 'target'; message: string }[] = [];
  const pattern = route.host;
  if (pattern !== '*') {
    const bare = pattern.startsWith('*.') ? pattern.slice(2) : pattern;
    const checked = normalizeHostname(bare);
    if (!checked.ok) problems.push({ path: 'host', message: `"${pattern}": ${checked.reason}` });
    else if (bare.includes('*'))
      problems.push({ path: 'host', message: `"${pattern}": "*" only as the first label` });
  }
  const target = route.target;
  if (target.startsWith('[') || isIP(target) !== 0) {
    const literal = parseHostPort(target, { portRequired: false });
    if (literal === null || literal.family !== 6) {
      problems.push({
        path: 'target',
        message: `"${target}": a literal target must be a bracketed IPv6 address`,
      });
    }
    return problems;
  }
  const placeholders: string[] = target.match(/\{[^}]*\}/g) ?? [];
  for (const p of placeholders) {
    if (p !== '{host}' && p !== '{sub}')
      problems.push({ path: 'target', message: `unknown placeholder ${p}` });
  }
  if (placeholders.includes('{sub}') && !pattern.startsWith('*')) {
    problems.push({ path: 'target', message: '{sub} needs a wildcard host pattern' });
  }
  const sample = normalizeHostname(expandTarget(target, 'host.example', 'sub'), { allowTrailingDot: true });
  if (!sample.ok) problems.push({ path: 'target', message: `"${target}": ${sample.reason}` });
  return problems;
}
