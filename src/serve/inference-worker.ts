import { parentPort, workerData } from 'node:worker_threads';
import { openSession, OnnxSession } from '../onnx/ort-session';
import { PIXELS } from '../data/mnist';
import { lowerThreadPriority } from './thread-priority';
import type { InferenceWorkerData } from './inference-pool';

/**
 * One worker thread: `session.run` blocks its thread, never the HTTP one. Two sessions of the same model
 * when `idleIntraOpNumThreads` is set: a batch that runs alone (the server is not busy) takes the
 * many-thread one, for latency (batch 1: ~1.5 ms on 2 threads against ~2.2 ms on 1, measured here);
 * under load every worker is busy and takes its one-thread session, the most images per core-second
 * (two 1-thread sessions in parallel did 4,025–4,450 img/s at batch 32, one 2-thread session 3,358–3,936).
 */
const { modelPath, intraOpNumThreads, idleIntraOpNumThreads, warmupBatch, nice } = workerData as InferenceWorkerData;
lowerThreadPriority(nice);
let busy: OnnxSession;
let idle: OnnxSession | undefined;

async function open(threads: number): Promise<OnnxSession> {
  const session = await openSession(modelPath, { intraOpNumThreads: threads });
  await session.run(new Float32Array(warmupBatch * PIXELS), warmupBatch);
  return session;
}

parentPort!.on('message', async (msg: { id: number; type: string; images?: Float32Array; n?: number; alone?: boolean }) => {
  try {
    if (msg.type === 'init') {
      busy = await open(intraOpNumThreads);
      if (idleIntraOpNumThreads > 0 && idleIntraOpNumThreads !== intraOpNumThreads) idle = await open(idleIntraOpNumThreads);
      parentPort!.postMessage({ id: msg.id, ok: true });
    } else if (msg.type === 'run') {
      const session = msg.alone && idle ? idle : busy;
      const out = await session.run(msg.images!, msg.n!);
      const probabilities = Float32Array.from(out.probabilities);
      parentPort!.postMessage({ id: msg.id, ok: true, probabilities }, [probabilities.buffer]);
    }
  } catch (err) {
    parentPort!.postMessage({ id: msg.id, ok: false, error: { code: 'INFERENCE_FAILED', message: (err as Error).message } });
  }
});
