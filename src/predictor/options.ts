import { cpus } from 'node:os';
import { AppError } from '../errors';
import { DEFAULT_MIN_DIGIT_SCORE, DEFAULT_MIN_DIGIT_WORTH } from '../inference/postprocess';

/** How the predictor decodes, batches and infers: the settings shared by the server, `predict` and the evaluations. */
export interface PredictorOptions {
  workers: number; // inference worker threads, one onnxruntime session each
  intraOpNumThreads: number; // onnxruntime threads per worker's session while other batches run too
  soloIntraOpNumThreads: number; // threads for a solo batch (nothing else running or waiting): a second session per worker; 0 = no second session
  workerNice: number; // nice steps the inference and decoding threads drop below the calling thread (Linux; 0 = same priority)
  maxBatchSize: number; // images per session.run
  maxBatchDelayMs: number; // ms the oldest queued request waits for a batch to fill
  maxQueue: number; // queued images before 503 QUEUE_FULL
  requestTimeoutMs: number; // ms a queued image may wait for its answer (504)
  maxPixels: number; // decoded size limit, checked from the header before decoding (422)
  inlineDecodeMaxPixels: number; // images up to this size (128×128) decode on the calling thread (< 1 ms); larger in a worker
  decodeWorkers: number; // threads decoding every image but small PNGs; one client holds at most all but one of them
  maxDecodeQueue: number; // large images waiting for a decoding thread before 503 QUEUE_FULL
  decodeTimeoutMs: number; // ms one decode may take before its worker is replaced and the image refused (422)
  decoder: 'auto' | 'sharp' | 'jimp'; // photos: auto = sharp where its binary loads, else jimp
  notDigit: 'refuse' | 'flag'; // a mark that is not a digit: refuse = 422 IMAGE_NO_DIGIT; flag = answer with isDigit false
  minDigitScore: number; // digit score (0..1) below which a mark is not a digit; the model's head puts its line at 0.5
  minDigitWorth: number; // a mark found in a photo whose probability × digit score is below this is not a digit either (0 = off; not for a 28×28 picture)
}

export const PREDICTOR_DEFAULTS: Readonly<PredictorOptions> = Object.freeze({
  workers: Math.max(1, Math.min(2, cpus().length)),
  intraOpNumThreads: 1,
  soloIntraOpNumThreads: 2,
  workerNice: 10,
  maxBatchSize: 32,
  maxBatchDelayMs: 2,
  maxQueue: 1024,
  requestTimeoutMs: 10_000,
  maxPixels: 40_000_000,
  inlineDecodeMaxPixels: 16_384,
  decodeWorkers: Math.max(1, Math.min(2, cpus().length)),
  maxDecodeQueue: 16,
  decodeTimeoutMs: 2_000,
  decoder: 'auto',
  notDigit: 'refuse',
  minDigitScore: DEFAULT_MIN_DIGIT_SCORE,
  minDigitWorth: DEFAULT_MIN_DIGIT_WORTH,
});

/** Options that are whole numbers, with the smallest value each takes. */
export const PREDICTOR_INTEGER_MINIMUMS: Readonly<Partial<Record<keyof PredictorOptions, number>>> = Object.freeze({
  workers: 1, intraOpNumThreads: 1, soloIntraOpNumThreads: 0, workerNice: 0, maxBatchSize: 1, maxQueue: 1, requestTimeoutMs: 1,
  maxPixels: 1, inlineDecodeMaxPixels: 0, decodeWorkers: 1, maxDecodeQueue: 1, decodeTimeoutMs: 1,
});

/** Throws CONFIG_INVALID for the first predictor option out of range in `c`. */
export function checkPredictorOptions(c: PredictorOptions): void {
  for (const [key, min] of Object.entries(PREDICTOR_INTEGER_MINIMUMS) as Array<[keyof PredictorOptions, number]>) {
    const v = c[key] as number;
    if (!Number.isInteger(v) || v < min) throw new AppError('CONFIG_INVALID', `option '${key}' must be an integer ≥ ${min}, got ${v}`);
  }
  if (!['auto', 'sharp', 'jimp'].includes(c.decoder)) throw new AppError('CONFIG_INVALID', `option 'decoder' must be auto, sharp or jimp, got ${c.decoder}`);
  if (!['refuse', 'flag'].includes(c.notDigit)) throw new AppError('CONFIG_INVALID', `option 'notDigit' must be refuse or flag, got ${c.notDigit}`);
  if (!(c.minDigitScore >= 0 && c.minDigitScore <= 1)) throw new AppError('CONFIG_INVALID', `option 'minDigitScore' must be in [0, 1], got ${c.minDigitScore}`);
  if (!(c.minDigitWorth >= 0 && c.minDigitWorth <= 1)) throw new AppError('CONFIG_INVALID', `option 'minDigitWorth' must be in [0, 1], got ${c.minDigitWorth}`);
  if (!(c.maxBatchDelayMs >= 0)) throw new AppError('CONFIG_INVALID', `option 'maxBatchDelayMs' must be ≥ 0, got ${c.maxBatchDelayMs}`);
}

/**
 * The defaults with `partial` over them, checked and frozen; unknown keys are refused.
 * @example resolvePredictorOptions({ workers: 1 }).maxBatchSize // 32
 */
export function resolvePredictorOptions(partial: Partial<PredictorOptions> = {}): PredictorOptions {
  for (const key of Object.keys(partial)) {
    if (!(key in PREDICTOR_DEFAULTS)) throw new AppError('CONFIG_INVALID', `unknown predictor option '${key}'`);
  }
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  const c = { ...PREDICTOR_DEFAULTS, ...defined } as PredictorOptions;
  checkPredictorOptions(c);
  return Object.freeze(c);
}
