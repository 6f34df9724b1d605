/** Cross-field rules of the TLS termination keys (tls-schema.ts); files are checked in check-files.ts. */
import { normalizeHostname } from '../route/hostname.js';
import type { ConfigProblem } from './load.js';
import type { Config } from './schema.js';

export function tlsProblems(config: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const name = config.tls.defaultCertificate;
  if (name !== undefined) {
    const checked = normalizeHostname(name.startsWith('*.') ? name.slice(2) : name);
    if (!checked.ok)
      problems.push({ path: 'tls.defaultCertificate', message: `"${name}": ${checked.reason}` });
  }
  config.routes.forEach((route, i) => {
    // Terminated requests go through the HTTP path, which carries the client in X-Forwarded-For/Forwarded.
    if (route.tls === 'terminate' && route.proxyProtocol !== undefined && route.proxyProtocol !== 'none')
      problems.push({ path: `routes[${i}].proxyProtocol`, message: 'not supported on terminate routes yet' });
    if (route.tls === 'terminate' && typeof route.sourceNat46Prefix === 'string')
      problems.push({
        path: `routes[${i}].sourceNat46Prefix`,
        message: 'not supported on terminate routes yet',
      });
    const https = route.upstream === 'https';
    if (route.upstreamCa !== undefined && !https)
      problems.push({ path: `routes[${i}].upstreamCa`, message: 'needs upstream: https' });
    if (route.upstreamInsecure !== undefined && !https)
      problems.push({ path: `routes[${i}].upstreamInsecure`, message: 'needs upstream: https' });
    if (route.upstreamInsecure === true && route.upstreamCa !== undefined)
      problems.push({
        path: `routes[${i}].upstreamInsecure`,
        message: 'contradicts upstreamCa (verification off, but a CA given)',
      });
  });
  return problems;
}
