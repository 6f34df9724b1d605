/**
 * The one shape every protocol sniffer has (STYLE.md §2): a pure function of the bytes read from the
 * client so far. The input is never consumed — the caller forwards all of it to the backend — so a
 * sniffer is called again with a longer buffer after each `need-more`.
 */
import type { ErrorCode } from '../errors.js';

export type SniffResult<T> =
  | { readonly kind: 'done'; readonly value: T }
  | { readonly kind: 'need-more' }
  | { readonly kind: 'invalid'; readonly code: ErrorCode; readonly reason: string };

export interface Sniffer<T> {
  /** Short protocol label for logs and metrics, e.g. 'tls'. */
  readonly protocol: string;
  sniff(input: Buffer): SniffResult<T>;
}

const NEED_MORE: SniffResult<never> = Object.freeze({ kind: 'need-more' });

/** The shared `need-more` result (frozen; callers compare `kind`, never identity). */
export function needMore<T>(): SniffResult<T> {
  return NEED_MORE;
}

export function sniffDone<T>(value: T): SniffResult<T> {
  return { kind: 'done', value };
}

export function sniffInvalid<T>(code: ErrorCode, reason: string): SniffResult<T> {
  return { kind: 'invalid', code, reason };
}
