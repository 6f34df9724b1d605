/** Config rules for the admin server, called from config/validate.ts with the other cross-field rules. */
import { parseHostPort } from '../accept/address.js';
import type { ConfigProblem } from '../config/load.js';
import type { Config } from '../config/schema.js';

export function adminProblems(config: Config): ConfigProblem[] {
  const admin = parseHostPort(config.admin.address);
  if (admin === null) {
    return [
      {
        path: 'admin.address',
        message: `"${config.admin.address}" is not "IPv4:port" or "[IPv6]:port"`,
      },
    ];
  }
  if (admin.port === 0) return [];
  const problems: ConfigProblem[] = [];
  config.listeners.forEach((listener, i) => {
    const address = parseHostPort(listener.address);
    if (address === null || address.port !== admin.port) return;
    const overlaps = address.host === admin.host || isWildcard(address.host) || isWildcard(admin.host);
    if (overlaps) {
      problems.push({
        path: 'admin.address',
        message: `${config.admin.address} overlaps listeners[${i}] (${listener.address}): the admin server never shares a proxy port`,
      });
    }
  });
  return problems;
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}
