import type { Decoder } from './decode';
import type { PreprocessInfo } from './preprocess';

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
  init: { request: Record<string, never>; reply: Record<string, never> };
  /** `images` is n × 784 floats; `solo`: nothing else runs or waits, so the many-thread session may take it. */
  run: { request: { images: Float32Array; n: number; solo: boolean }; reply: { probabilities: Float32Array } };
};

/** What every decoding worker is started with. */
export interface DecodeWorkerData {
  nice: number;
  decoder: Decoder;
}

/** Tasks of decode-worker.ts: image file bytes in, the model's 28×28 input out. */
export type DecodeProtocol = {
  decode: { request: { bytes: Uint8Array; maxPixels: number }; reply: { input: Float32Array; info: PreprocessInfo } };
};
