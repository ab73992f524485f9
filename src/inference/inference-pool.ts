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
    // Loading a model and running a batch always end, though niced workers on cores saturated by other
    // processes can take 10 s or more to load; terminated midway, the process aborts.
    settleWaitMs: Infinity,
  });
}
