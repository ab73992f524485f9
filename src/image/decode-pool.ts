import { AppError } from '../errors';
import { WorkerPool, workerScript } from '../workers/pool';
import type { DecodeProtocol, DecodeWorkerData } from './protocol';

export type DecodePool = WorkerPool<DecodeProtocol, DecodeWorkerData>;

export interface DecodePoolOptions {
  size: number; // decoding threads (and one spare, started beside them)
  maxWaiting: number; // images waiting for a thread before QUEUE_FULL
  closedError: () => AppError; // the answer to work offered after close()
}

/**
 * Threads that run every decoder but our own small-PNG one (decode-worker.ts). A hostile file can make a
 * decoder loop forever: each task gets a deadline from the caller, and a worker past it is replaced at
 * once by a spare kept warm beside the pool. One client (the task's owner) holds at most all threads but
 * one, and so do heavy files (decodeCost over HEAVY_DECODE_PIXELS) together, whoever sent them: files
 * that are slow to decode wait for each other and leave a thread for everyone's ordinary photos.
 */
export function createDecodePool(data: DecodeWorkerData, opts: DecodePoolOptions): DecodePool {
  return new WorkerPool<DecodeProtocol, DecodeWorkerData>(workerScript(__dirname, 'decode-worker'), {
    size: opts.size, workerData: data, maxWaiting: opts.maxWaiting, spares: 1,
    maxPerOwner: Math.max(1, opts.size - 1), maxHeavy: Math.max(1, opts.size - 1),
    crashError: (m) => new AppError('IMAGE_UNDECODABLE', `the image could not be decoded: the decoding ${m}`),
    closedError: opts.closedError,
  });
}
