import { parentPort, workerData } from 'node:worker_threads';
import { openSession, OnnxSession } from '../onnx/ort-session';
import { PIXELS } from '../data/mnist';

/** One onnxruntime session per worker thread: `session.run` blocks its thread, never the HTTP one. */
const { modelPath, intraOpNumThreads, warmupBatch } = workerData as { modelPath: string; intraOpNumThreads: number; warmupBatch: number };
let session: OnnxSession;

parentPort!.on('message', async (msg: { id: number; type: string; images?: Float32Array; n?: number }) => {
  try {
    if (msg.type === 'init') {
      session = await openSession(modelPath, { intraOpNumThreads });
      await session.run(new Float32Array(warmupBatch * PIXELS), warmupBatch);
      parentPort!.postMessage({ id: msg.id, ok: true });
    } else if (msg.type === 'run') {
      const out = await session.run(msg.images!, msg.n!);
      const probabilities = Float32Array.from(out.probabilities);
      parentPort!.postMessage({ id: msg.id, ok: true, probabilities }, [probabilities.buffer]);
    }
  } catch (err) {
    parentPort!.postMessage({ id: msg.id, ok: false, error: { code: 'INFERENCE_FAILED', message: (err as Error).message } });
  }
});
