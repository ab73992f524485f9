import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { AppError } from '../errors';
import { checkPixelLimit, decodeImage, decodeSmallPng, readHeader } from './decode';
import { preprocess, PreprocessInfo } from './preprocess';
import { Batcher, BatcherEvents } from './batcher';
import { toPrediction, Prediction } from './postprocess';
import { WorkerPool, workerScript } from './worker-pool';
import type { ServeConfig } from './config';

export interface PredictResult { prediction: Prediction; input28: Float32Array; info: PreprocessInfo }

/** Image bytes in, prediction out: decode, preprocess, batch, infer in worker threads. */
export interface Predictor {
  /** Resolves when every worker has loaded the model and run a warm-up batch. */
  readonly ready: Promise<void>;
  isReady(): boolean;
  predictBytes(bytes: Uint8Array): Promise<PredictResult>;
  /** Already preprocessed images ([n,1,28,28] in [0,1]); each goes through the same queue. */
  predictInputs(inputs: Float32Array[]): Promise<Prediction[]>;
  readonly queueDepth: number;
  /** Stops taking work, answers what is queued, stops the workers. */
  close(): Promise<void>;
}

type PredictorOptions = Pick<ServeConfig, 'workers' | 'intraOpNumThreads' | 'idleIntraOpNumThreads' | 'workerNice' | 'maxBatchSize' | 'maxBatchDelayMs' | 'maxQueue'
  | 'requestTimeoutMs' | 'maxPixels' | 'inlineDecodeMaxPixels' | 'decodeWorkers' | 'maxDecodeQueue'>;

/**
 * Starts the worker pools for `modelPath`.
 * @example const p = createPredictor('artifacts/mnist-cnn.int8.onnx', config); await p.ready;
 */
export function createPredictor(modelPath: string, opts: PredictorOptions, events: BatcherEvents = {}): Predictor {
  if (!existsSync(modelPath)) throw new AppError('MODEL_INVALID', `model file ${modelPath} does not exist (run make export-onnx, or pass --model)`);
  const inference = new WorkerPool(workerScript(__dirname, 'inference-worker'), opts.workers, {
    modelPath: resolve(modelPath), intraOpNumThreads: opts.intraOpNumThreads, idleIntraOpNumThreads: opts.idleIntraOpNumThreads, warmupBatch: opts.maxBatchSize, nice: opts.workerNice,
  });
  // Large photos take seconds to decode (12 MP JPEG: ~3.4 s in jimp): bound how many may wait, so a
  // flood of them turns into 503s instead of memory growth. Small images never come here.
  const decoders = new WorkerPool(workerScript(__dirname, 'decode-worker'), opts.decodeWorkers, { nice: opts.workerNice }, opts.maxDecodeQueue);
  let readyFlag = false;
  const ready = inference.broadcast({ type: 'init' }).then((replies) => {
    const bad = replies.find((r) => !r.ok);
    if (bad) throw new AppError('MODEL_INVALID', `a worker could not load ${modelPath}: ${bad.error?.message}`);
    readyFlag = true;
  });
  const batcher = new Batcher(async (images, n, alone) => {
    const reply = await inference.run({ type: 'run', images, n, alone }, [images.buffer as ArrayBuffer]);
    return reply.probabilities as Float32Array;
  }, { ...opts, concurrency: opts.workers }, events);

  async function toInput(bytes: Uint8Array): Promise<{ input: Float32Array; info: PreprocessInfo }> {
    const header = readHeader(bytes);
    if (header.width * header.height <= opts.inlineDecodeMaxPixels) {
      // decodeSmallPng's pixels live in a reused buffer: preprocessed at once, with no await in between.
      const bitmap = decodeSmallPng(bytes, header, opts.maxPixels) ?? (await decodeImage(bytes, opts.maxPixels)).bitmap;
      return preprocess(bitmap);
    }
    checkPixelLimit(header, opts.maxPixels); // before copying the bytes to the decoding worker
    const copy = Uint8Array.from(bytes);
    const reply = await decoders.run({ type: 'decode', bytes: copy, maxPixels: opts.maxPixels }, [copy.buffer]);
    return { input: reply.input as Float32Array, info: reply.info as PreprocessInfo };
  }

  return {
    ready,
    isReady: () => readyFlag,
    get queueDepth() { return batcher.depth; },
    async predictBytes(bytes) {
      // Decode in the event loop's check phase, after the I/O callbacks that are ready now: under load a
      // burst of uploads would otherwise decode back to back before a /healthz in the same burst is read.
      await new Promise<void>((r) => setImmediate(r));
      const { input, info } = await toInput(bytes);
      const probs = await batcher.submit(input);
      return { prediction: toPrediction(probs), input28: input, info };
    },
    async predictInputs(inputs) {
      const probs = await Promise.all(inputs.map((x) => batcher.submit(x)));
      return probs.map(toPrediction);
    },
    async close() {
      await batcher.drain();
      await Promise.all([inference.close(), decoders.close()]);
    },
  };
}
