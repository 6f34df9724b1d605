/**
 * Loads the optional native addon (native/, built by scripts/build-native.mjs at install time): the
 * splice pump behind the `splice` pipe engine, and IP_FREEBIND sockets for NAT46 sources. Loading never
 * throws: when the addon is missing or unusable, `loadNative()` returns null and `nativeLoadError()` says
 * why, and callers fall back (JS engine; `net.ipv6.ip_nonlocal_bind`).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Called on the JS thread once per finished pair; `end` indexes PUMP_ENDS, `errno` is positive or 0. */
export type PumpDoneCallback = (
  id: number,
  toBackend: number,
  toClient: number,
  end: number,
  errno: number,
) => void;

/** One set of worker threads moving established pairs with splice(2). */
export interface NativePump {
  /**
   * Hands a connected pair over: the fds are dup'd (the caller must then destroy its sockets), the heads
   * are written first, and `counters` ([toBackend, toClient]) is updated live until the completion.
   * Returns the pair's id; throws an errno-style error (code, errno, syscall) when nothing was queued.
   */
  add(
    clientFd: number,
    backendFd: number,
    clientHead: Uint8Array,
    backendHead: Uint8Array,
    idleTimeoutMs: number,
    counters: Float64Array,
  ): number;
  /** Resets both sides of a pair; its completion then reports `aborted`. Unknown ids are ignored. */
  abort(id: number): void;
  /** Resets every pair (no completions) and joins the workers. Idempotent. */
  close(): void;
}

export interface NativeAddon {
  readonly abiVersion: number;
  readonly Pump: new (threads: number, onDone: PumpDoneCallback) => NativePump;
  /** A new non-blocking, close-on-exec TCP socket fd with IP_FREEBIND set. Throws on failure. */
  freebindSocket(family: 4 | 6): number;
}

/** The addon surface this code was written against (native/src/addon.c ABI_VERSION). */
const ABI_VERSION = 1;

/** Where the build leaves the addon, from src/pipe/ (tests, tsx) and from dist/src/pipe/ (built). */
const CANDIDATES = ['../../native/build/Release/edge46.node', '../../../native/build/Release/edge46.node'];

let loaded: { readonly addon: NativeAddon | null; readonly error: string | null } | undefined;

export function loadNative(): NativeAddon | null {
  loaded ??= tryLoad();
  return loaded.addon;
}

/** Why `loadNative()` returned null (null when it loaded, or before the first attempt). */
export function nativeLoadError(): string | null {
  return loaded?.error ?? null;
}

function tryLoad(): { addon: NativeAddon | null; error: string | null } {
  if (process.platform !== 'linux')
    return { addon: null, error: `the native addon is Linux-only (${process.platform})` };
  const paths = CANDIDATES.map((c) => fileURLToPath(new URL(c, import.meta.url)));
  const path = paths.find((p) => existsSync(p));
  if (path === undefined) {
    return {
      addon: null,
      error: `native addon not built (run \`node scripts/build-native.mjs\`; looked for ${paths[0]})`,
    };
  }
  let mod: unknown;
  try {
    mod = createRequire(import.meta.url)(path);
  } catch (err) {
    return {
      addon: null,
      error: `native addon failed to load from ${path}: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  if (!isAddon(mod)) {
    return {
      addon: null,
      error: `native addon at ${path} is stale or foreign (want ABI ${ABI_VERSION}; rebuild it)`,
    };
  }
  return { addon: mod, error: null };
}

function isAddon(mod: unknown): mod is NativeAddon {
  if (typeof mod !== 'object' || mod === null) return false;
  const m = mod as Record<string, unknown>;
  return (
    m.abiVersion === ABI_VERSION && typeof m.Pump === 'function' && typeof m.freebindSocket === 'function'
  );
}
