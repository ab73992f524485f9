import type { Decoder } from './decode';
import type { Preprocessed } from './preprocess';

/** What every decoding worker is started with. */
export interface DecodeWorkerData {
  nice: number;
  decoder: Decoder;
}

/** Tasks of decode-worker.ts: image file bytes in, the model's 28×28 input out. */
export type DecodeProtocol = {
  decode: { request: { bytes: Uint8Array; maxPixels: number }; reply: Preprocessed };
};
