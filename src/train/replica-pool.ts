import { AppError } from '../errors';
import { WorkerPool, workerScript } from '../workers/pool';
import type { InitRequest, TrainProtocol } from './protocol';

/** The training replicas: one worker each, addressed by index (each holds its own model and slot). */
export type ReplicaPool = WorkerPool<TrainProtocol, undefined>;

/** Starts `n` replicas and initialises them identically (each with its own index). */
export async function startReplicas(n: number, init: Omit<InitRequest, 'workerIndex' | 'numWorkers'>): Promise<{ pool: ReplicaPool; ready: TrainProtocol['init']['reply'] }> {
  const pool: ReplicaPool = new WorkerPool<TrainProtocol, undefined>(workerScript(__dirname, 'replica-worker'), {
    size: n, workerData: undefined, respawn: false,
    crashError: (m) => new AppError('TRAIN_WORKER_FAILED', `a training replica ${m}`),
    closedError: () => new AppError('TRAIN_WORKER_FAILED', 'the training replicas are closed'),
  });
  try {
    const answers = await pool.broadcast('init', (i) => ({ ...init, workerIndex: i, numWorkers: n }));
    return { pool, ready: answers[0] };
  } catch (err) {
    await pool.close();
    throw err;
  }
}
