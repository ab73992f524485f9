import { AppError } from '../errors';
import { WorkerPool, workerScript } from '../workers/pool';
import type { DecodeProtocol, DecodeWorkerData } from './protocol';

export type DecodePool = WorkerPool<DecodeProtocol, DecodeWorkerData>;

export interface DecodePoolOptions {
  size: number; // decoding threads
  maxWaiting: number; // images waiting for a thread before QUEUE_FULL
  closedError: () => AppError; // the answer to work offered after close()
}

/**
 * Threads that run every decoder but our own small-PNG one (decode-worker.ts). A hostile file can make a
 * decoder loop forever: each task gets a deadline from the caller, and a worker past it is replaced.
 */
export function createDecodePool(data: DecodeWorkerData, opts: DecodePoolOptions): DecodePool {
  return new WorkerPool<DecodeProtocol, DecodeWorkerData>(workerScript(__dirname, 'decode-worker'), {
    size: opts.size, workerData: data, maxWaiting: opts.maxWaiting,
    crashError: (m) => new AppError('IMAGE_UNDECODABLE', `the image could not be decoded: the decoding ${m}`),
    closedError: opts.closedError,
  });
}
