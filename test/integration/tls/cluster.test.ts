/**
 * Cluster mode (workers: 2, the built entry point): every worker derives the same session ticket keys
 * from the primary's seed, so a ticket issued by one worker resumes on the other.
 */
import t from 'tap';
import tls from 'node:tls';
import { requireBuild, startEdgeProcess } from '../../helpers/ops.js';
import { startHttpBackend } from '../http/backends.js';
import { tlsFixtures as f } from './rig.js';

const skip = requireBuild();

/** One request on a new connection, offering `session`; resolves with the newest ticket and reuse. */
function connectOnce(
  port: number,
  session?: Buffer,
): Promise<{ session: Buffer | undefined; reused: boolean }> {
  return new Promise((resolve, reject) => {
    let latest: Buffer | undefined;
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      servername: 'a.example.com',
      ca: f.ca,
      ...(session === undefined ? {} : { session }),
    });
    socket.on('session', (s: Buffer) => (latest = s));
    socket.once('secureConnect', () =>
      socket.write('GET / HTTP/1.1\r\nHost: a.example.com\r\nConnection: close\r\n\r\n'),
    );
    socket.resume();
    socket.once('end', () => {
      resolve({ session: latest, reused: socket.isSessionReused() });
      socket.end();
    });
    socket.once('error', reject);
  });
}

t.test('a ticket from one worker resumes on another', { skip }, async (t) => {
  const backend = await startHttpBackend(t, 'a');
  const edge = await startEdgeProcess(
    t,
    `
workers: 2
admin: { address: "127.0.0.1:0" }
log: { level: debug }
listeners:
  - { name: tls, address: "127.0.0.1:0", protocol: tls }
backends: { allow: ["::1/128"], deny: [] }
tls:
  certificates: [{ certFile: "${f.files('exact').certFile}", keyFile: "${f.files('exact').keyFile}" }]
routes:
  - { host: a.example.com, target: "[::1]", port: ${backend.port}, tls: terminate }
`,
  );
  const port = edge.listenerPort('tls');
  let session = (await connectOnce(port)).session;
  const reused: boolean[] = [];
  for (let i = 0; i < 8; i++) {
    const next = await connectOnce(port, session);
    reused.push(next.reused);
    session = next.session ?? session;
  }
  t.same(
    reused,
    reused.map(() => true),
    'every repeat connection resumed',
  );
  const handshakes = edge.child.jsonLines().filter((r) => r.msg === 'tls terminated');
  const workers = new Set(handshakes.map((r) => r.pid));
  t.equal(workers.size, 2, 'the connections were spread over both workers');
  const resumedBy = new Set(
    handshakes.filter((r) => (r.tls as { resumed: boolean }).resumed).map((r) => r.pid),
  );
  t.equal(resumedBy.size, 2, 'both workers resumed tickets (some issued by the other)');
});
