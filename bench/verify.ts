/**
 * Before anything is measured: every system answers correctly. Passthrough: the captured ClientHello for
 * name A reaches backend A and the one for name B reaches backend B (each backend names itself), and
 * 256 KiB of random bytes come back byte-identical. HTTP: 100 B and 64 KiB bodies, intact, from the
 * HTTP backend.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import type { BenchEnv } from './env.js';
import type { Running } from './systems.js';

const CHECK_TIMEOUT_MS = 5_000;

export function splitHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[|\]$/g, '');
  return { host, port: Number(address.slice(i + 1)) };
}

export async function verifyTls(env: BenchEnv, running: Running): Promise<void> {
  const cases = [
    { hello: env.hellos.a, address: running.tls, id: 'backend-a' },
    { hello: env.hellos.b, address: running.tlsB, id: 'backend-b' },
  ];
  for (const c of cases) {
    if (c.address === null) throw new Error('no passthrough address');
    const payload = randomBytes(256 * 1024);
    const sent = Buffer.concat([readFileSync(c.hello.path), Buffer.from('ECHO\n'), payload]);
    const expected = Buffer.concat([Buffer.from(`ID ${c.id}\n`), payload]);
    const got = await exchange(c.address, sent, expected.length);
    if (!got.equals(expected)) {
      const head = got.subarray(0, 40).toString('latin1');
      throw new Error(
        `${c.hello.serverName}: expected ${expected.length} bytes from ${c.id}, got ${got.length} starting ${JSON.stringify(head)}`,
      );
    }
  }
}

export async function verifyHttp(running: Running): Promise<void> {
  if (running.http === null) throw new Error('no http address');
  for (const size of [100, 65_536]) {
    const { status, body, backend } = await get(running.http, `/${size}`);
    const expected = Buffer.alloc(size);
    for (let i = 0; i < size; i++) expected[i] = 97 + (i % 26);
    if (status !== 200 || !body.equals(expected) || backend !== 'backend-http') {
      throw new Error(`GET /${size}: status ${status}, ${body.length} bytes, backend ${backend}`);
    }
  }
}

/**
 * Sends `data` and reads until `expected` bytes (or EOF) arrived, without half-closing first: nginx
 * (proxy_half_close off by default) and sniproxy close both ways on the client's FIN.
 */
function exchange(address: string, data: Buffer, expected: number): Promise<Buffer> {
  const { host, port } = splitHostPort(address);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const socket = connect({ host, port, allowHalfOpen: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer from ${address} within ${CHECK_TIMEOUT_MS} ms`));
    }, CHECK_TIMEOUT_MS);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      length += c.length;
      if (length >= expected) {
        clearTimeout(timer);
        socket.destroy();
        resolve(Buffer.concat(chunks));
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('end', () => {
      clearTimeout(timer);
      socket.end();
      resolve(Buffer.concat(chunks));
    });
    socket.write(data);
  });
}

function get(address: string, path: string): Promise<{ status: number; body: Buffer; backend: string }> {
  const { host, port } = splitHostPort(address);
  return new Promise((resolve, reject) => {
    const req = request(
      { host, port, path, headers: { host: 'bench.test' }, agent: false, timeout: CHECK_TIMEOUT_MS },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks),
            backend: String(res.headers['x-backend'] ?? ''),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
