/**
 * The embedded default that `npm start` serves with no --config: loopback-only listeners, system
 * resolvers, every name routed to its own AAAA records, and only global unicast backends.
 */
export const DEFAULT_CONFIG_YAML = `# edge46 embedded default configuration
listeners:
  - name: tls
    address: "127.0.0.1:8443"
    protocol: tls
    backendPort: 443
  - name: http
    address: "127.0.0.1:8080"
    protocol: http
    backendPort: 80
routes:
  - host: "*"
    target: "{host}"
backends:
  allow: ["2000::/3"]
`;
