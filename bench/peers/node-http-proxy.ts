/**
 * node-http-proxy (the `http-proxy` package) as the bench's "what a Node user would pick" baseline: one
 * process, a keep-alive agent to the backend. Usage: node node-http-proxy.js PORT TARGET_URL
 */
import http from 'node:http';
import httpProxy from 'http-proxy';

const [port = '0', target = 'http://[::1]:80'] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const proxy = httpProxy.createProxyServer({ target, agent });
proxy.on('error', (_err, _req, res) => {
  if ('writeHead' in res && !res.headersSent) res.writeHead(502);
  res.end();
});
http.createServer((req, res) => proxy.web(req, res)).listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
