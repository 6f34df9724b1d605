/**
 * Sockets that may bind to an address that is not (yet) configured locally, via IP_FREEBIND: NAT46
 * source addresses (a /96 prefix made local with `ip -6 route add local PREFIX dev lo`), where a plain
 * bind fails with EADDRNOTAVAIL. Node cannot set the option itself, so the socket is created by the
 * native addon; IP_FREEBIND needs no privilege (unlike the per-namespace `net.ipv6.ip_nonlocal_bind`
 * sysctl, which kubelet does not allow by default).
 */
import { closeSync } from 'node:fs';
import net from 'node:net';
import { loadNative } from '../pipe/native.js';

/**
 * A new, unconnected TCP socket of the given family (default 6) with IP_FREEBIND set, for
 * `socket.connect({ host, port, localAddress })` to a destination of the same family. null when the
 * native addon is unavailable (`nativeLoadError()` in pipe/native.ts says why). Throws an errno-style
 * error if the socket cannot be created (e.g. EMFILE).
 */
export function createFreebindSocket(family: 4 | 6 = 6): net.Socket | null {
  const addon = loadNative();
  if (addon === null) return null;
  const fd = addon.freebindSocket(family);
  try {
    return new net.Socket({ fd, allowHalfOpen: true });
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}
