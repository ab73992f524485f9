import { AppError } from '../errors';
import { WorkerPool, workerScript } from '../workers/pool';
import type { InferenceProtocol, InferenceWorkerData } from './protocol';

export type InferencePool = WorkerPool<InferenceProtocol, InferenceWorkerData>;

/** A pool of onnxruntime workers (inference-worker.ts); broadcast `init` before the first `run`. */
export function createInferencePool(size: number, data: InferenceWorkerData, closedError: () => AppError): InferencePool {
  return new WorkerPool<InferenceProtocol, InferenceWorkerData>(workerScript(__dirname, 'inference-worker'), {
    size, workerData: data,
    crashError: (m) => new AppError('INFERENCE_FAILED', `an inference ${m}`),
    closedError,
    // Loading a model and running a batch always end, though on cores saturated by other processes
    // niced workers take seconds (5 s was overrun); terminated midway, the process aborts.
    settleWaitMs: Infinity,
  });
}
