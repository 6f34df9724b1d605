/**
 * A minimal RFC 6455 echo server for the upgrade tests: the opening handshake (§4.2.2), frame parsing
 * with masking and 7/16/64-bit lengths (§5.2), echo of text and binary messages, pong for ping, and the
 * closing handshake. Unfragmented messages only (enough for an echo).
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Test } from 'tap';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export interface WsEchoServer {
  readonly port: number;
  /** Request heads of the upgrades received. */
  readonly upgrades: http.IncomingHttpHeaders[];
}

export function acceptKey(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

/** A server frame (never masked). */
export function encodeFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.alloc(2) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  head[0] = 0x80 | opcode;
  if (len < 126) head[1] = len;
  else if (len < 65536) {
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else {
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  return Buffer.concat([head, payload]);
}

interface Frame {
  readonly opcode: number;
  readonly payload: Buffer;
  readonly size: number;
}

/** One complete frame at the start of `buf`, or null when more bytes are needed. */
export function decodeFrame(buf: Buffer): Frame | null {
  if (buf.length < 2) return null;
  const opcode = (buf[0] ?? 0) & 0x0f;
  const masked = ((buf[1] ?? 0) & 0x80) !== 0;
  let len = (buf[1] ?? 0) & 0x7f;
  let offset = 2;
  if (len === 126) {
    if (buf.length < 4) return null;
    len = buf.readUInt16BE(2);
    offset = 4;
  } else if (len === 127) {
    if (buf.length < 10) return null;
    len = Number(buf.readBigUInt64BE(2));
    offset = 10;
  }
  const maskOffset = offset;
  if (masked) offset += 4;
  if (buf.length < offset + len) return null;
  const payload = Buffer.from(buf.subarray(offset, offset + len));
  if (masked) for (let i = 0; i < len; i++) payload[i] = (payload[i] ?? 0) ^ (buf[maskOffset + (i % 4)] ?? 0);
  return { opcode, payload, size: offset + len };
}

function echo(socket: Socket, head: Buffer): void {
  let pending = head;
  const onData = (data: Buffer): void => {
    pending = pending.length === 0 ? data : Buffer.concat([pending, data]);
    for (let frame = decodeFrame(pending); frame !== null; frame = decodeFrame(pending)) {
      pending = pending.subarray(frame.size);
      if (frame.opcode === 0x8) {
        socket.end(encodeFrame(0x8, frame.payload.subarray(0, 2)));
        return;
      }
      if (frame.opcode === 0x9) socket.write(encodeFrame(0xa, frame.payload));
      else if (frame.opcode === 0x1 || frame.opcode === 0x2)
        socket.write(encodeFrame(frame.opcode, frame.payload));
    }
  };
  socket.on('data', onData);
  if (head.length > 0) onData(Buffer.alloc(0));
}

/** `refuse`: answer upgrades with this status instead of 101 (a backend that says no). */
export async function startWsEchoServer(t: Test, opts: { refuse?: number } = {}): Promise<WsEchoServer> {
  const upgrades: http.IncomingHttpHeaders[] = [];
  const upgraded = new Set<Socket>();
  const server = http.createServer((_req, res) => res.end('not a websocket request\n'));
  server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    upgrades.push(req.headers);
    upgraded.add(socket);
    socket.on('error', () => {});
    const key = req.headers['sec-websocket-key'];
    if (
      opts.refuse !== undefined ||
      typeof key !== 'string' ||
      req.headers.upgrade?.toLowerCase() !== 'websocket'
    ) {
      const body = 'no upgrade for you\n';
      socket.end(
        `HTTP/1.1 ${opts.refuse ?? 400} Nope\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
      return;
    }
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`,
    );
    echo(socket, head);
  });
  server.listen(0, '::1');
  await once(server, 'listening');
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of upgraded) socket.destroy();
      }),
  );
  return { port: (server.address() as AddressInfo).port, upgrades };
}
