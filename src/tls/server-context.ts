/**
 * What edge46 offers TLS clients on terminate routes: TLS 1.2 and 1.3 only, forward-secret AEAD
 * suites (Mozilla "intermediate" for TLS 1.2; OpenSSL's TLS 1.3 defaults), ALPN h2 and http/1.1.
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import type { TicketKeys } from './ticket-keys.js';

/** TLS 1.2 suites; TLS 1.3 suites are OpenSSL's defaults (all AEAD). */
export const SERVER_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** Preference order: HTTP/2 first (RFC 7301 §3.2: the server picks from the client's list). */
export const ALPN_PROTOCOLS = ['h2', 'http/1.1'];

export function createServerContext(
  pair: { readonly certPem: string; readonly keyPem: string },
  opts: { readonly tickets: TicketKeys; readonly sessionTimeoutSeconds: number },
): SecureContext {
  const context = createSecureContext({
    cert: pair.certPem,
    key: pair.keyPem,
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    ciphers: SERVER_CIPHERS,
    ecdhCurve: 'X25519:P-256:P-384',
    honorCipherOrder: false,
    sessionTimeout: opts.sessionTimeoutSeconds,
  });
  opts.tickets.install(context);
  return context;
}
