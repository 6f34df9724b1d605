/**
 * Process signals: SIGHUP reloads; the first SIGTERM or SIGINT drains; a second one exits at once.
 */

export interface SignalHandlers {
  readonly reload: (signal: NodeJS.Signals) => void;
  readonly drain: (signal: NodeJS.Signals) => void;
  readonly exitNow: (signal: NodeJS.Signals) => void;
}

export interface SignalsHandle {
  /** True once SIGTERM or SIGINT arrived (or markStopping was called). */
  readonly stopping: boolean;
  /** Counts as the first stop signal (e.g. a drain ordered over IPC). */
  markStopping(): void;
  dispose(): void;
}

export function installSignals(handlers: SignalHandlers): SignalsHandle {
  let stopping = false;
  const onStop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      handlers.exitNow(signal);
      return;
    }
    stopping = true;
    handlers.drain(signal);
  };
  const onHup = (signal: NodeJS.Signals): void => {
    if (!stopping) handlers.reload(signal);
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', onHup);
  return {
    get stopping() {
      return stopping;
    },
    markStopping() {
      stopping = true;
    },
    dispose() {
      process.off('SIGTERM', onStop);
      process.off('SIGINT', onStop);
      process.off('SIGHUP', onHup);
    },
  };
}
