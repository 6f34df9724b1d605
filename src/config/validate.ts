/** Cross-field rules the schema cannot express; every problem is returned, none stops the others. */
import { parseHostPort } from '../accept/address.js';
import { adminProblems } from '../admin/config-check.js';
import { AddressPolicy, parseCidr } from '../resolve/address-policy.js';
import { normalizeHostname } from '../route/hostname.js';
import { routeProblems } from '../route/route-table.js';
import { clientAddressProblems } from './client-address-check.js';
import { tlsProblems } from './tls-check.js';
import type { ConfigProblem } from './load.js';
import type { Config } from './schema.js';

export function crossFieldProblems(config: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const names = new Set<string>();
  const addresses = new Set<string>();
  config.listeners.forEach((listener, i) => {
    if (names.has(listener.name))
      problems.push({ path: `listeners[${i}].name`, message: `duplicate name "${listener.name}"` });
    names.add(listener.name);
    const address = parseHostPort(listener.address);
    if (address === null) {
      problems.push({
        path: `listeners[${i}].address`,
        message: `"${listener.address}" is not "IPv4:port" or "[IPv6]:port"`,
      });
    } else if (address.port !== 0) {
      const key = `${address.host}:${address.port}`;
      if (addresses.has(key))
        problems.push({ path: `listeners[${i}].address`, message: `duplicate address ${listener.address}` });
      addresses.add(key);
    }
    if (listener.defaultHost !== undefined) {
      const host = normalizeHostname(listener.defaultHost);
      if (!host.ok) problems.push({ path: `listeners[${i}].defaultHost`, message: host.reason });
    }
  });

  const cidrProblems = (list: readonly string[], key: 'allow' | 'deny'): void => {
    list.forEach((cidr, i) => {
      const parsed = parseCidr(cidr);
      if (parsed === null)
        problems.push({ path: `backends.${key}[${i}]`, message: `"${cidr}" is not a CIDR prefix` });
      else if (parsed.family !== 6)
        problems.push({ path: `backends.${key}[${i}]`, message: `"${cidr}": backends are IPv6 only` });
    });
  };
  cidrProblems(config.backends.allow, 'allow');
  cidrProblems(config.backends.deny, 'deny');

  let policy: AddressPolicy | null = null;
  try {
    policy = AddressPolicy.create({ allow: config.backends.allow, deny: config.backends.deny });
  } catch {
    policy = null; // already reported entry by entry above
  }

  const patterns = new Map<string, number>();
  config.routes.forEach((route, i) => {
    const pattern = route.host.toLowerCase();
    const first = patterns.get(pattern);
    if (first !== undefined)
      problems.push({ path: `routes[${i}].host`, message: `"${route.host}" repeats routes[${first}]` });
    else patterns.set(pattern, i);
    for (const p of routeProblems(route))
      problems.push({ path: `routes[${i}].${p.path}`, message: p.message });
    const literal = parseHostPort(route.target, { portRequired: false });
    if (literal !== null && literal.family === 6 && policy !== null) {
      const verdict = policy.check(literal.host);
      if (!verdict.allowed) {
        problems.push({
          path: `routes[${i}].target`,
          message: `${literal.host} is refused: ${verdict.reason}`,
        });
      }
    }
  });

  const h = config.http;
  if (h.requestTimeoutMs > 0 && h.headersTimeoutMs > h.requestTimeoutMs) {
    problems.push({ path: 'http.headersTimeoutMs', message: 'must not exceed http.requestTimeoutMs' });
  }
  h.trustedProxies.forEach((cidr, i) => {
    if (parseCidr(cidr) === null)
      problems.push({ path: `http.trustedProxies[${i}]`, message: `"${cidr}" is not a CIDR prefix` });
  });
  problems.push(...clientAddressProblems(config));

  problems.push(...adminProblems(config));

  problems.push(...tlsProblems(config));

  const r = config.resolver;
  if (r.minTtlSeconds > r.maxTtlSeconds) {
    problems.push({ path: 'resolver.minTtlSeconds', message: 'must not exceed maxTtlSeconds' });
  }
  (r.servers ?? []).forEach((server, i) => {
    if (parseHostPort(server, { portRequired: false }) === null) {
      problems.push({
        path: `resolver.servers[${i}]`,
        message: `"${server}" is not "addr", "addr:port" or "[addr]:port"`,
      });
    }
  });
  return problems;
}
