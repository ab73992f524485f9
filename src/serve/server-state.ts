import { AppError } from '../errors';

/** The answer to work offered while the server drains. */
export function serverDraining(): AppError {
  return new AppError('SERVER_DRAINING', 'the server is shutting down');
}

/**
 * Whether the server takes work, decided in one place: 'loading' until every worker has loaded the
 * model, then 'ready', then 'draining' from the shutdown on. /readyz, the v2 readiness endpoints and
 * every answer's Connection header read it.
 */
export interface ServerState {
  readiness(): 'loading' | 'ready' | 'draining';
  readonly draining: boolean;
  startDraining(): void;
}

export function createServerState(modelReady: () => boolean): ServerState {
  let draining = false;
  return {
    readiness: () => (draining ? 'draining' : modelReady() ? 'ready' : 'loading'),
    get draining() { return draining; },
    startDraining() { draining = true; },
  };
}
