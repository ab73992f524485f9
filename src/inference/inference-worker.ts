import { workerData } from 'node:worker_threads';
import { openSession, OnnxSession } from '../onnx/ort-session';
import { NUM_CLASSES, PIXELS } from '../data/mnist';
import { answerTasks, Transfer } from '../workers/protocol';
import { PAIR_DIGITS_WIDTH } from '../onnx/pair-digits';
import { lowerThreadPriority } from '../workers/thread-priority';
import { DIGIT_SCORE_COLUMN, OUTPUT_ROW, PAIR_DIGITS_COLUMN, PAIR_SCORE_COLUMN, type InferenceProtocol, type InferenceWorkerData } from './protocol';

/**
 * One worker thread: `session.run` blocks its thread, never the HTTP one. Two sessions of the same model
 * when `soloIntraOpNumThreads` is set: a solo batch (the server is not busy) takes the many-thread one,
 * for latency (batch 1: ~1.5 ms on 2 threads against ~2.2 ms on 1, measured here); under load every
 * worker is busy and takes its one-thread session, the most images per core-second (two 1-thread
 * sessions in parallel did 4,025–4,450 img/s at batch 32, one 2-thread session 3,358–3,936).
 */
const { modelPath, intraOpNumThreads, soloIntraOpNumThreads, warmupBatch, nice } = workerData as InferenceWorkerData;
lowerThreadPriority(nice);
let loaded: OnnxSession;
let solo: OnnxSession | undefined;

async function open(threads: number): Promise<OnnxSession> {
  const session = await openSession(modelPath, { intraOpNumThreads: threads });
  await session.run(new Float32Array(warmupBatch * PIXELS), warmupBatch);
  return session;
}

answerTasks<InferenceProtocol>({
  async init() {
    loaded = await open(intraOpNumThreads);
    if (soloIntraOpNumThreads > 0 && soloIntraOpNumThreads !== intraOpNumThreads) solo = await open(soloIntraOpNumThreads);
    return { outputs: [...loaded.outputNames] };
  },
  async run({ images, n, solo: isSolo }) {
    const out = await (isSolo && solo ? solo : loaded).run(images, n);
    const rows = new Float32Array(n * OUTPUT_ROW);
    for (let i = 0; i < n; i++) {
      rows.set(out.probabilities.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES), i * OUTPUT_ROW);
      rows[i * OUTPUT_ROW + DIGIT_SCORE_COLUMN] = out.digitScores ? out.digitScores[i] : NaN;
      rows[i * OUTPUT_ROW + PAIR_SCORE_COLUMN] = out.pairScores ? out.pairScores[i] : NaN;
      if (out.pairDigits) rows.set(out.pairDigits.subarray(i * PAIR_DIGITS_WIDTH, (i + 1) * PAIR_DIGITS_WIDTH), i * OUTPUT_ROW + PAIR_DIGITS_COLUMN);
      else rows.fill(NaN, i * OUTPUT_ROW + PAIR_DIGITS_COLUMN, (i + 1) * OUTPUT_ROW);
    }
    return new Transfer({ rows }, [rows.buffer]);
  },
}, 'INFERENCE_FAILED');
