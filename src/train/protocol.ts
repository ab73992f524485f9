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
}

/** Messages between the training coordinator and its replica workers. */
export interface InitMessage {
  type: 'init';
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
  shared: SharedState | null;
}

export type ToWorker =
  | InitMessage
  /** Compute gradients of the mean loss over `indices` into this worker's slot. */
  | { type: 'step'; indices: Int32Array; step: number }
  /** Adam-update this worker's shard of the shared weights from Σ scales[k] · slot[k]. */
  | { type: 'update'; lr: number; t: number; scales: number[] }
  /** Copy the shared weights into the model (all at once after every shard is updated). */
  | { type: 'pull' }
  /** Copy the model's weights into the shared weights (start, resume). */
  | { type: 'push' }
  | { type: 'logits'; set: 'train' | 'test'; indices: Int32Array }
  | { type: 'save'; dir: string }
  | { type: 'load'; dir: string }
  | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; backend: BackendName; numParams: number }
  | { type: 'grads'; loss: number; correct: number; count: number }
  | { type: 'done' }
  | { type: 'logits'; logits: Float32Array }
  | { type: 'error'; message: string; code?: string };
