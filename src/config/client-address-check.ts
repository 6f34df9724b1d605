/**
 * Cross-field rules for the client-address keys (client-address-schema.ts): prefix shapes, the trusted
 * proxies an accepting listener needs, and NAT46 prefixes that must never be dialled themselves.
 */
import { parseHostPort } from '../accept/address.js';
import { parseNat64Prefix } from '../accept/nat64.js';
import { nat46Prefixes, parseNat46Prefix } from '../connect/nat46.js';
import { cidrContains, parseCidr } from '../resolve/address-policy.js';
import type { ConfigProblem } from './load.js';
import type { Config } from './schema.js';

export function clientAddressProblems(config: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const nat46 = (path: string, text: string): void => {
    const parsed = parseNat46Prefix(text);
    if (!parsed.ok) problems.push({ path, message: `${parsed.reason}; a NAT46 source prefix is a /96` });
  };

  config.listeners.forEach((listener, i) => {
    const at = `listeners[${i}]`;
    if (listener.sourceNat46Prefix !== undefined)
      nat46(`${at}.sourceNat46Prefix`, listener.sourceNat46Prefix);
    listener.clientNat64Prefixes.forEach((text, j) => {
      const parsed = parseNat64Prefix(text);
      if (!parsed.ok) problems.push({ path: `${at}.clientNat64Prefixes[${j}]`, message: parsed.reason });
    });
    listener.trustedProxies.forEach((text, j) => {
      if (parseCidr(text) === null) {
        problems.push({
          path: `${at}.trustedProxies[${j}]`,
          message: `"${text}" is not a CIDR prefix or address`,
        });
      }
    });
    if (listener.acceptProxyProtocol && listener.trustedProxies.length === 0) {
      problems.push({
        path: `${at}.trustedProxies`,
        message: 'acceptProxyProtocol needs at least one trusted proxy (anyone else could claim any address)',
      });
    }
    if (!listener.acceptProxyProtocol && listener.trustedProxies.length > 0) {
      problems.push({
        path: `${at}.trustedProxies`,
        message: 'has no effect without acceptProxyProtocol: true',
      });
    }
  });

  config.routes.forEach((route, i) => {
    if (typeof route.sourceNat46Prefix === 'string')
      nat46(`routes[${i}].sourceNat46Prefix`, route.sourceNat46Prefix);
  });

  // NAT46 prefixes are edge46's own source addresses, never dialled (the address policy reserves them):
  // an allow entry or a literal target inside one can only be a mistake. A broad entry around one is fine.
  const prefixes = nat46Prefixes(config);
  config.backends.allow.forEach((text, i) => {
    for (const prefix of prefixes) {
      if (cidrContains(prefix, text)) {
        problems.push({
          path: `backends.allow[${i}]`,
          message: `"${text}" lies inside the NAT46 source prefix ${prefix}`,
        });
      }
    }
  });
  config.routes.forEach((route, i) => {
    const literal = parseHostPort(route.target, { portRequired: false });
    if (literal === null || literal.family !== 6) return;
    for (const prefix of prefixes) {
      if (cidrContains(prefix, literal.host)) {
        problems.push({
          path: `routes[${i}].target`,
          message: `${literal.host} lies inside the NAT46 source prefix ${prefix}`,
        });
      }
    }
  });
  return problems;
}
