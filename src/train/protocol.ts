import type { BackendChoice, BackendName } from '../backend/select-backend';
import type { ModelConfig } from '../model/config';
import type { AugmentConfig } from '../data/augment';

/** Shared memory of a training run: one gradient slot per worker, the weights and Adam's moments. */
export interface SharedState {
  numParams: number;
  gradSlots: SharedArrayBuffer; // numWorkers × numParams float32
  weights: SharedArrayBuffer; // numParams float32, in model.trainableWeights order
  adamM: SharedArrayBuffer;
  adamV: SharedArrayBuffer;
  /** The moving average of the weights (numParams float32), empty when the run keeps none. */
  ema: SharedArrayBuffer;
}

/** What a replica starts from: its place among the replicas, the model, and the shared data. */
export interface InitRequest {
  workerIndex: number;
  numWorkers: number;
  backend: BackendChoice;
  modelConfig: ModelConfig;
  augment: AugmentConfig | null;
  seed: number;
  /** Train images (uint8, 784 per image) and labels, shared by all replicas. */
  trainImages: SharedArrayBuffer;
  trainLabels: SharedArrayBuffer;
  testImages: SharedArrayBuffer;
  /** Outlier marks (uint8, 784 per image), empty when the run has none. */
  outlierMarks: SharedArrayBuffer;
  outlierWeight: number;
  /** Share of a digit's target spread evenly over the classes (0: one-hot). */
  labelSmoothing: number;
  shared: SharedState | null;
}

type Empty = Record<string, never>;

/** Tasks of replica-worker.ts, sent by the training coordinator (trainer.ts) through a WorkerPool. */
export type TrainProtocol = {
  init: { request: InitRequest; reply: { backend: BackendName; numParams: number } };
  /**
   * Compute gradients into this worker's slot: the mean loss over the digits `indices`, plus
   * outlierWeight × the mean loss over the outliers (the marks `marks`, and one pair per two entries of
   * `pairs`) against a uniform target. `loss` and `correct` are the digits', `outlierLoss` the
   * mean over its `outliers`.
   */
  step: {
    request: { indices: Int32Array; marks: Int32Array; pairs: Int32Array; step: number };
    reply: { loss: number; outlierLoss: number; correct: number; count: number; outliers: number };
  };
  /**
   * Adam-update this worker's shard of the shared weights from Σ scales[k] · slot[k], then move the
   * shard's average toward them by (1 − emaDecay) when the run keeps one.
   */
  update: { request: { lr: number; t: number; scales: number[]; emaDecay: number }; reply: Empty };
  /** Copy the shared weights, or their moving average, into the model (all at once after every shard is updated). */
  pull: { request: { from?: 'weights' | 'ema' }; reply: Empty };
  /** Copy the model's weights into the shared weights (start, resume). */
  push: { request: Empty; reply: Empty };
  logits: { request: { set: 'train' | 'test'; indices: Int32Array }; reply: { logits: Float32Array } };
  save: { request: { dir: string }; reply: Empty };
  load: { request: { dir: string }; reply: Empty };
};
