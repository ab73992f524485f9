import { NUM_CLASSES } from '../data/mnist';
import { PAIR_DIGITS_WIDTH } from '../onnx/pair-digits';

/**
 * Values per image a batch answers: the 10 calibrated probabilities, the digit score, the pair score,
 * the pair reader's 101 probabilities.
 */
export const OUTPUT_ROW = NUM_CLASSES + 2 + PAIR_DIGITS_WIDTH;
/** Where a row holds the digit score, the pair score and the pair reader's first value (NaN when the model has no such head). */
export const DIGIT_SCORE_COLUMN = NUM_CLASSES;
export const PAIR_SCORE_COLUMN = NUM_CLASSES + 1;
export const PAIR_DIGITS_COLUMN = NUM_CLASSES + 2;

/** What every inference worker is started with (its workerData). */
export interface InferenceWorkerData {
  modelPath: string;
  intraOpNumThreads: number; // threads of the session used under load
  soloIntraOpNumThreads: number; // threads of a second session for a solo batch (nothing else running or waiting); 0: none
  warmupBatch: number; // images in the warm-up run
  nice: number; // nice steps below the HTTP thread
}

/** Tasks of inference-worker.ts: load the model (once, broadcast), then run batches. */
export type InferenceProtocol = {
  /** Replies with the model's output names (the heads add `digit_score`, `pair_score` and `pair_digits`). */
  init: { request: Record<string, never>; reply: { outputs: string[] } };
  /** `images` is n × 784 floats; `solo`: nothing else runs or waits, so the many-thread session may take it. */
  /** `rows`: n × OUTPUT_ROW values, an image's probabilities, then its digit and pair scores and the pair reader's probabilities (NaN without the head). */
  run: { request: { images: Float32Array; n: number; solo: boolean }; reply: { rows: Float32Array } };
};
