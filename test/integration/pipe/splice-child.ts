// A proxy process for splice-engine.test.ts: hands each connection on 127.0.0.1:0 to the splice engine
// with a backend socket to [::1]:PORT. Prints JSON lines (listening, started, done). Modes:
//   exit-on-usr2  SIGUSR2 → process.exit(0) mid-transfer (pairs still open)
//   one-pair      stop listening after the first pair finishes; the process must then exit by itself
// Not a *.test.ts file.
import net from 'node:net';
import { nativeLoadError } from '../../../src/pipe/native.js';
import { createSpliceEngine } from '../../../src/pipe/splice-engine.js';

const [backendPort, mode] = process.argv.slice(2);
const engine = createSpliceEngine();
if (engine === null) {
  console.log(JSON.stringify({ event: 'unavailable', reason: nativeLoadError() }));
  process.exit(2);
}
const proxy = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (c) => {
  c.on('error', () => undefined);
  const b = net.connect({ host: '::1', port: Number(backendPort), allowHalfOpen: true });
  b.pause();
  b.on('error', () => undefined);
  b.once('connect', () => {
    const handle = engine.start(c, b, { clientHead: Buffer.from('child|'), idleTimeoutMs: 0 });
    console.log(JSON.stringify({ event: 'started' }));
    void handle.done.then((result) => {
      console.log(JSON.stringify({ event: 'done', end: result.end }));
      if (mode === 'one-pair') proxy.close();
    });
  });
});
proxy.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ event: 'listening', port: (proxy.address() as net.AddressInfo).port }));
});
if (mode === 'exit-on-usr2') process.on('SIGUSR2', () => process.exit(0));
