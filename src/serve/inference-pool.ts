import { AppError } from '../errors';
import { WorkerPool, workerScript } from './worker-pool';

/** What every inference worker is started with (inference-worker.ts reads it as its workerData). */
export interface InferenceWorkerData {
  modelPath: string;
  intraOpNumThreads: number; // threads of the session used under load
  idleIntraOpNumThreads: number; // threads of a second session for a batch that runs alone; 0: none
  warmupBatch: number; // images in the warm-up run
  nice: number; // nice steps below the HTTP thread
}

/** A pool of onnxruntime workers; send `{type: 'init'}` to all (broadcast) before the first run. */
export function createInferencePool(size: number, data: InferenceWorkerData): WorkerPool {
  return new WorkerPool(workerScript(__dirname, 'inference-worker'), {
    size, workerData: data, crashError: (m) => new AppError('INFERENCE_FAILED', `an inference ${m}`),
  });
}
