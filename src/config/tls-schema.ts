/**
 * Config keys of TLS termination: the top-level `tls` section (certificates, their directory, the
 * default, whether self-signed fallbacks are allowed, ticket key rotation) and the per-route fields
 * (`tls`, `upstream`, `upstreamCa`, `upstreamInsecure`). Spread into schema.ts; cross-field rules are in
 * tls-check.ts, file checks (`--check`) in check-files.ts.
 */
import { z } from 'zod';

export const tlsSchema = z
  .strictObject({
    certificates: z
      .array(
        z.strictObject({
          certFile: z
            .string()
            .min(1)
            .describe('PEM certificate, leaf first, then intermediates (the chain sent to clients).'),
          keyFile: z.string().min(1).describe('PEM private key (unencrypted) of the leaf.'),
        }),
      )
      .default([])
      .describe(
        'Certificate/key pairs for terminate routes. Each is served for the names in its subjectAltName (DNS names, "*.example.com" for one label).',
      ),
    certificateDir: z
      .string()
      .optional()
      .describe(
        'A directory of pairs: NAME.crt + NAME.key, or subfolders holding tls.crt + tls.key (Kubernetes TLS secrets mounted as volumes). Re-read when anything in it changes.',
      ),
    defaultCertificate: z
      .string()
      .optional()
      .describe(
        'A name ("www.example.com"): the certificate covering it is served when the SNI matches no certificate or is absent.',
      ),
    requireCertificates: z
      .boolean()
      .default(false)
      .describe(
        'false: a terminate route that no certificate covers gets a self-signed one made at start-up (warning logged; for development). true: that is a start-up error.',
      ),
    ticketKeyRotationSeconds: z
      .int()
      .min(60)
      .max(604_800)
      .default(3_600)
      .describe(
        'Session tickets are encrypted with a random in-memory key replaced this often; the previous key is still accepted, and a ticket lives this long. Changes need a restart.',
      ),
  })
  .prefault({})
  .describe(
    'TLS termination (routes with tls: terminate). Certificate files are watched: a changed valid pair is served to new connections, open ones keep theirs; an invalid one is logged and the old one stays.',
  );

export const routeTlsFields = {
  tls: z
    .enum(['passthrough', 'terminate'])
    .optional()
    .describe(
      "tls listeners: passthrough (default) pipes the encrypted bytes to the backend; terminate completes the handshake in edge46 (TLS 1.2/1.3, ALPN h2 and http/1.1) and proxies the decrypted HTTP requests like an http listener, with X-Forwarded-Proto: https. The listener's proxyProtocol and sourceNat46Prefix apply to passthrough routes only.",
    ),
  upstream: z
    .enum(['http', 'https'])
    .optional()
    .describe(
      'Protocol to the backend for proxied HTTP requests: http (default) or https. A terminate route without `port` dials 80 (http) or 443 (https).',
    ),
  upstreamCa: z
    .string()
    .optional()
    .describe(
      'upstream: https: PEM file of the CAs the backend certificate must chain to (default: the system CAs). The name checked is the target name.',
    ),
  upstreamInsecure: z
    .boolean()
    .optional()
    .describe('upstream: https: do not verify the backend certificate (warning logged at start).'),
};

export type TlsConfig = z.output<typeof tlsSchema>;
