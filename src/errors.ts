/**
 * The error taxonomy (STYLE.md §3). Every failure on the data path becomes a ProxyError with a stable
 * code; `describeOutcome` is the single place that decides what the client sees (TLS alert or HTTP
 * status) and what the connection log records. Codes are documented in docs/errors.md and never reused.
 */

/** Which party the failure is attributed to. */
export type Side = 'client' | 'backend' | 'internal';

/** The connection outcome recorded in the per-connection log line and (later) in metrics. */
export type Outcome =
  | 'ok'
  | 'no_route'
  | 'blocked'
  | 'resolve_failed'
  | 'connect_failed'
  | 'bad_hello'
  | 'bad_request'
  | 'bad_response'
  | 'timeout'
  | 'reset'
  | 'overload'
  | 'error';

/** RFC 8446 §6 alert descriptions that edge46 sends before closing a client it cannot serve. */
export const TlsAlert = {
  decodeError: 50,
  illegalParameter: 47,
  internalError: 80,
  unrecognizedName: 112,
  protocolVersion: 70,
} as const;
export type TlsAlertCode = (typeof TlsAlert)[keyof typeof TlsAlert];

interface CodeInfo {
  readonly side: Side;
  readonly outcome: Outcome;
  /** Alert sent on a TLS listener before the close; null: close without an alert. */
  readonly tlsAlert: TlsAlertCode | null;
  /** Status an HTTP listener answers with. */
  readonly httpStatus: number;
}

/** One row per code; the client-visible outcome of each code is decided here and nowhere else. */
const CODES = {
  // Client-side input problems.
  EDGE_SNIFF_TIMEOUT: { side: 'client', outcome: 'timeout', tlsAlert: null, httpStatus: 408 },
  EDGE_BAD_HELLO: { side: 'client', outcome: 'bad_hello', tlsAlert: TlsAlert.decodeError, httpStatus: 400 },
  EDGE_HELLO_TOO_LARGE: {
    side: 'client',
    outcome: 'bad_hello',
    tlsAlert: TlsAlert.decodeError,
    httpStatus: 431,
  },
  EDGE_NOT_TLS: { side: 'client', outcome: 'bad_hello', tlsAlert: null, httpStatus: 400 },
  EDGE_BAD_NAME: {
    side: 'client',
    outcome: 'bad_hello',
    tlsAlert: TlsAlert.illegalParameter,
    httpStatus: 400,
  },
  EDGE_NO_SNI: { side: 'client', outcome: 'no_route', tlsAlert: TlsAlert.unrecognizedName, httpStatus: 400 },
  EDGE_CLIENT_CLOSED: { side: 'client', outcome: 'reset', tlsAlert: null, httpStatus: 499 },
  EDGE_CLIENT_RESET: { side: 'client', outcome: 'reset', tlsAlert: null, httpStatus: 499 },
  // PROXY protocol from a load balancer in front (acceptProxyProtocol): no alert, the peer is not TLS yet.
  EDGE_BAD_PROXY_HEADER: { side: 'client', outcome: 'bad_hello', tlsAlert: null, httpStatus: 400 },
  EDGE_UNTRUSTED_PROXY: { side: 'client', outcome: 'blocked', tlsAlert: null, httpStatus: 403 },
  // Routing.
  EDGE_NO_ROUTE: {
    side: 'client',
    outcome: 'no_route',
    tlsAlert: TlsAlert.unrecognizedName,
    httpStatus: 421,
  },
  EDGE_IP_LITERAL: {
    side: 'client',
    outcome: 'no_route',
    tlsAlert: TlsAlert.unrecognizedName,
    httpStatus: 421,
  },
  // Resolution (AAAA only).
  EDGE_RESOLVE_NXDOMAIN: {
    side: 'backend',
    outcome: 'resolve_failed',
    tlsAlert: TlsAlert.internalError,
    httpStatus: 502,
  },
  EDGE_RESOLVE_NODATA: {
    side: 'backend',
    outcome: 'resolve_failed',
    tlsAlert: TlsAlert.internalError,
    httpStatus: 502,
  },
  EDGE_RESOLVE_FAILED: {
    side: 'backend',
    outcome: 'resolve_failed',
    tlsAlert: TlsAlert.internalError,
    httpStatus: 502,
  },
  EDGE_RESOLVE_TIMEOUT: {
    side: 'backend',
    outcome: 'resolve_failed',
    tlsAlert: TlsAlert.internalError,
    httpStatus: 504,
  },
  EDGE_BLOCKED_ADDRESS: {
    side: 'backend',
    outcome: 'blocked',
    tlsAlert: TlsAlert.internalError,
    httpStatus: 502,
  },
  // Connecting to the backend.
  EDGE_CONNECT_REFUSED: {
    side: 'backend',
    outcome: 'connect_failed',
    tlsAlert: TlsAlert.internalError,
    httpStatus: 502,
  },
  EDGE_CONNECT_TIMEOUT: {
    side: 'backend',
    outcome: 'connect_failed',
    tlsAlert: TlsAlert.internalError,
    httpStatus: 504,
  },
  EDGE_CONNECT_FAILED: {
    side: 'backend',
    outcome: 'connect_failed',
    tlsAlert: TlsAlert.internalError,
    httpStatus: 502,
  },
  // While piping.
  EDGE_IDLE_TIMEOUT: { side: 'internal', outcome: 'timeout', tlsAlert: null, httpStatus: 504 },
  EDGE_BACKEND_RESET: { side: 'backend', outcome: 'reset', tlsAlert: null, httpStatus: 502 },
  // HTTP listeners: the client's request.
  EDGE_BAD_REQUEST: { side: 'client', outcome: 'bad_request', tlsAlert: null, httpStatus: 400 },
  EDGE_NO_HOST: { side: 'client', outcome: 'bad_request', tlsAlert: null, httpStatus: 400 },
  EDGE_BAD_HOST: { side: 'client', outcome: 'bad_request', tlsAlert: null, httpStatus: 400 },
  EDGE_HEADERS_TOO_LARGE: { side: 'client', outcome: 'bad_request', tlsAlert: null, httpStatus: 431 },
  EDGE_REQUEST_TIMEOUT: { side: 'client', outcome: 'timeout', tlsAlert: null, httpStatus: 408 },
  EDGE_METHOD_NOT_ALLOWED: { side: 'client', outcome: 'bad_request', tlsAlert: null, httpStatus: 405 },
  // HTTP listeners: the backend's response.
  EDGE_UPSTREAM_TIMEOUT: { side: 'backend', outcome: 'timeout', tlsAlert: null, httpStatus: 504 },
  EDGE_UPSTREAM_BODY_TIMEOUT: { side: 'backend', outcome: 'timeout', tlsAlert: null, httpStatus: 504 },
  EDGE_UPSTREAM_RESET: { side: 'backend', outcome: 'reset', tlsAlert: null, httpStatus: 502 },
  EDGE_UPSTREAM_BAD_RESPONSE: { side: 'backend', outcome: 'bad_response', tlsAlert: null, httpStatus: 502 },
  // TLS termination (routes with tls: terminate).
  EDGE_NO_CERTIFICATE: {
    side: 'internal',
    outcome: 'no_route',
    tlsAlert: TlsAlert.unrecognizedName,
    httpStatus: 421,
  },
  EDGE_TLS_HANDSHAKE: { side: 'client', outcome: 'bad_hello', tlsAlert: null, httpStatus: 400 },
  EDGE_MISDIRECTED_REQUEST: { side: 'client', outcome: 'no_route', tlsAlert: null, httpStatus: 421 },
  EDGE_UPSTREAM_TLS: {
    side: 'backend',
    outcome: 'connect_failed',
    tlsAlert: TlsAlert.internalError,
    httpStatus: 502,
  },
  // Limits and everything else.
  EDGE_OVER_CAPACITY: { side: 'internal', outcome: 'overload', tlsAlert: null, httpStatus: 503 },
  EDGE_SHUTTING_DOWN: { side: 'internal', outcome: 'overload', tlsAlert: null, httpStatus: 503 },
  EDGE_INTERNAL: { side: 'internal', outcome: 'error', tlsAlert: TlsAlert.internalError, httpStatus: 500 },
} as const satisfies Record<string, CodeInfo>;

export type ErrorCode = keyof typeof CODES;

export const ERROR_CODES: readonly ErrorCode[] = Object.keys(CODES) as ErrorCode[];

/** A failure on the data path. `message` names what was attempted (host, addresses, phase). */
export class ProxyError extends Error {
  readonly code: ErrorCode;
  override readonly cause: unknown;

  constructor(code: ErrorCode, message: string, cause?: unknown) {
    super(message);
    this.name = 'ProxyError';
    this.code = code;
    this.cause = cause;
  }

  get side(): Side {
    return CODES[this.code].side;
  }
}

export interface OutcomeDescription {
  readonly code: ErrorCode;
  readonly side: Side;
  readonly outcome: Outcome;
  readonly tlsAlert: TlsAlertCode | null;
  readonly httpStatus: number;
  readonly message: string;
}

/** The single mapping from any thrown value to what the client sees and what the log records. */
export function describeOutcome(err: unknown): OutcomeDescription {
  const proxyError =
    err instanceof ProxyError ? err : new ProxyError('EDGE_INTERNAL', errorMessage(err), err);
  const info: CodeInfo = CODES[proxyError.code];
  return { code: proxyError.code, ...info, message: proxyError.message };
}

/** Node's errno code of a low-level error (ECONNRESET, …), if any. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = err.code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
