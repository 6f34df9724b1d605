/**
 * Picks the pipe engine from `pipe.engine`: `auto` takes splice when the native addon loads and falls
 * back to js quietly otherwise; an explicit `splice` that cannot load is a start-up error with the reason.
 */
import type { Config } from '../config/schema.js';
import type { PipeEngine } from './engine.js';
import { createJsEngine } from './js-engine.js';
import { nativeLoadError } from './native.js';
import { createSpliceEngine } from './splice-engine.js';

export interface ChosenEngine {
  readonly engine: PipeEngine;
  /** Why `auto` fell back to js (null when it did not). */
  readonly fallbackReason: string | null;
  /** Stops the engine's workers (splice); a no-op for js. Call after every pair has finished. */
  close(): void;
}

export function choosePipeEngine(cfg: Config['pipe']): ChosenEngine {
  if (cfg.engine === 'js') return { engine: createJsEngine(), fallbackReason: null, close: noop };
  const splice = createSpliceEngine({ threads: cfg.threads });
  if (splice !== null) return { engine: splice, fallbackReason: null, close: () => splice.close() };
  const reason = nativeLoadError() ?? 'the native addon did not load';
  if (cfg.engine === 'splice') throw new Error(`pipe.engine is splice but ${reason}`);
  return { engine: createJsEngine(), fallbackReason: reason, close: noop };
}

function noop(): void {}
