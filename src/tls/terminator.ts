/**
 * TLS termination for terminate routes on tls listeners, on the socket the listener accepted (no
 * second listener): after the ClientHello has been sniffed and routed, pick the certificate for the
 * name, complete the handshake in edge46, and serve the decrypted connection through the HTTP path —
 * HTTP/1.1 through the http listeners' own frontend, HTTP/2 through node:http2 onto the same proxy
 * exchange — with X-Forwarded-Proto: https and the 421 rules of termination.ts.
 *
 * Lives as long as the App: its certificate store (and ticket keys) survive reloads.
 */
import type { Socket } from 'node:net';
import type { ConnectionContext } from '../accept/context.js';
import type { DataPath, ListenerRuntime } from '../accept/data-path.js';
import type { Config } from '../config/schema.js';
import { ProxyError } from '../errors.js';
import { HttpFrontend } from '../http/http-frontend.js';
import type { Logger } from '../observe/logger.js';
import type { PipeHandle } from '../pipe/engine.js';
import { CertificateStore, type CertificateReload } from './cert-store.js';
import { completeHandshake } from './handshake.js';
import { Http2Frontend } from './http2-frontend.js';
import { Termination } from './termination.js';

export interface TerminateRequest {
  readonly socket: Socket;
  /** Every byte read while sniffing (the ClientHello and anything after it). */
  readonly head: Buffer;
  /** The name the connection was routed by (SNI, or the listener's defaultHost). */
  readonly name: string;
  readonly ctx: ConnectionContext;
  readonly listener: ListenerRuntime;
  readonly track: (pipe: PipeHandle) => void;
}

/** What the connection log records about the handshake. */
export interface TerminatedConnection {
  readonly certificate: string;
  readonly match: 'exact' | 'wildcard' | 'default';
  readonly protocol: 'h2' | 'http/1.1';
  readonly version: string;
  readonly resumed: boolean;
}

export class Terminator {
  #http1: HttpFrontend | null = null;
  #http2: Http2Frontend | null = null;

  private constructor(
    readonly certificates: CertificateStore,
    private readonly dataPath: DataPath,
    private readonly log: Logger,
  ) {}

  /** Loads the certificates (self-signed stand-ins where allowed; MissingCertificateError otherwise). */
  static async start(
    config: Config,
    opts: { dataPath: DataPath; log: Logger; ticketSeed?: Buffer | undefined },
  ): Promise<Terminator> {
    const certificates = await CertificateStore.start(config, {
      log: opts.log,
      ...(opts.ticketSeed === undefined ? {} : { ticketSeed: opts.ticketSeed }),
    });
    warnInsecureUpstreams(config, opts.log);
    return new Terminator(certificates, opts.dataPath, opts.log);
  }

  /**
   * Handshake, then HTTP until the client closes. Rejects with a ProxyError when no certificate
   * covers the name (EDGE_NO_CERTIFICATE: nothing was written, the caller sends the alert) or the
   * handshake fails (EDGE_TLS_HANDSHAKE, EDGE_CLIENT_CLOSED: the socket is already destroyed).
   * `onSecure` hears about a completed handshake before HTTP starts.
   */
  async serve(req: TerminateRequest, onSecure: (c: TerminatedConnection) => void): Promise<void> {
    const selection = this.certificates.select(req.name);
    if (selection === null) {
      throw new ProxyError(
        'EDGE_NO_CERTIFICATE',
        `no certificate covers ${req.name} and there is no default`,
      );
    }
    const handshake = await completeHandshake(req.socket, req.head, {
      context: selection.entry.context,
      timeoutMs: req.listener.config.sniffTimeoutMs,
    });
    const connection: TerminatedConnection = {
      certificate: selection.entry.source,
      match: selection.match,
      protocol: handshake.protocol,
      version: handshake.version,
      resumed: handshake.resumed,
    };
    onSecure(connection);
    req.ctx.log.debug({ tls: { ...connection, handshakeMs: handshake.ms } }, 'tls terminated');
    const termination = new Termination(req.name, selection.entry.names);
    if (handshake.protocol === 'h2') {
      this.#http2 ??= new Http2Frontend(this.dataPath);
      await this.#http2.handle(handshake.socket, req.ctx, req.listener, termination);
    } else {
      this.#http1 ??= new HttpFrontend(req.listener.config, this.dataPath, this.log);
      await this.#http1.handle(handshake.socket, req.ctx, req.listener, req.track, termination);
    }
  }

  /** A config reload: new certificate sources, routes that need stand-ins (may reject, changing nothing). */
  async reconfigure(config: Config): Promise<CertificateReload> {
    const summary = await this.certificates.reconfigure(config);
    warnInsecureUpstreams(config, this.log);
    return summary;
  }

  /** Shutdown: idle HTTP/1.1 connections close, HTTP/2 sessions get GOAWAY; busy ones finish. */
  drain(): void {
    this.#http1?.drain();
    this.#http2?.drain();
  }

  close(): void {
    this.certificates.close();
  }
}

function warnInsecureUpstreams(config: Config, log: Logger): void {
  for (const route of config.routes) {
    if (route.upstream === 'https' && route.upstreamInsecure === true) {
      log.warn(
        { route: route.host, target: route.target },
        'upstreamInsecure: the backend certificate of this route is not verified',
      );
    }
  }
}
