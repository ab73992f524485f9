import { AppError } from '../errors';
import { AUGMENT_DEFAULTS } from '../data/augment';
import type { BackendChoice } from '../backend/select-backend';
import { MODEL_DEFAULTS, ModelConfig, resolveModelConfig } from '../model/config';

export interface TrainConfig {
  epochs: number;
  batchSize: number; // images per optimizer step, split over the workers
  learningRate: number; // peak Adam learning rate
  warmupSteps: number; // linear warm-up before the cosine decay
  seed: number; // initial weights, split, data order, augmentation
  valCount: number; // images held out from the 60k for validation
  trainLimit: number; // use only the first N training images (after the split), 0 = all
  testLimit: number; // evaluate on the first N test images, 0 = all 10k
  augment: boolean; // on-the-fly augmentation
  patience: number; // epochs without validation-loss improvement before stopping
  workers: number; // data-parallel replicas (worker threads); 0 = one per core on wasm, 1 on tfjs-node
  backend: BackendChoice;
  outDir: string; // report, pictures and model go here
  checkpointDir: string;
  resume: boolean; // continue from checkpointDir/last
  maxSteps: number; // stop after this many steps in total (benchmarks, tests), 0 = no limit
  /**
   * Outlier exposure: non-digit marks and touching pairs (src/data/outliers.ts) whose target is 1/10
   * for every class. Off by default: the run with it read single digits and numbers worse
   * (docs/training.md#outlier-exposure-tried-not-shipped).
   */
  outlierMarks: string; // the marks' file (make outlier-marks)
  marksPerStep: number; // marks added to each step's batch (0 = none)
  pairsPerStep: number; // two touching training digits squeezed into one box, added to each step (0 = none)
  outlierWeight: number; // the outliers' mean loss is weighted by this against the digits' mean loss
  /**
   * Decay of an exponential moving average of the weights (Polyak averaging), updated after every
   * step; 0 = none. With it, validation, early stopping and the saved model use the average, and each
   * epoch also records the trained weights' own validation figures.
   */
  emaDecay: number;
  /** A digit's target puts this share on the ten classes evenly (Szegedy et al. 2016); 0 = one-hot. */
  labelSmoothing: number;
  model: ModelConfig;
}

export const TRAIN_DEFAULTS: Readonly<TrainConfig> = Object.freeze({
  epochs: 15,
  batchSize: 128,
  learningRate: 1e-3,
  warmupSteps: 100,
  seed: 42,
  valCount: 5000,
  trainLimit: 0,
  testLimit: 0,
  augment: true,
  patience: 3,
  workers: 0,
  backend: 'auto',
  outDir: 'artifacts',
  checkpointDir: 'artifacts/checkpoints',
  resume: false,
  maxSteps: 0,
  outlierMarks: 'data/outlier-marks.bin',
  marksPerStep: 0,
  pairsPerStep: 0,
  outlierWeight: 0.5,
  emaDecay: 0,
  labelSmoothing: 0,
  model: MODEL_DEFAULTS,
});

/** Merges, validates and freezes a training config; unknown keys are rejected. */
export function resolveTrainConfig(partial: Partial<Omit<TrainConfig, 'model'>> & { model?: Partial<ModelConfig> } = {}): TrainConfig {
  for (const key of Object.keys(partial)) {
    if (!(key in TRAIN_DEFAULTS)) throw new AppError('CONFIG_INVALID', `unknown training option '${key}'`);
  }
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  const config = { ...TRAIN_DEFAULTS, ...defined, model: resolveModelConfig(partial.model ?? {}) } as TrainConfig;
  const positive = ['epochs', 'batchSize', 'learningRate'] as const;
  for (const key of positive) {
    if (!(config[key] > 0)) throw new AppError('CONFIG_INVALID', `training option '${key}' must be positive, got ${config[key]}`);
  }
  for (const key of ['marksPerStep', 'pairsPerStep', 'outlierWeight'] as const) {
    if (!(config[key] >= 0)) throw new AppError('CONFIG_INVALID', `training option '${key}' must be 0 or more, got ${config[key]}`);
  }
  for (const key of ['labelSmoothing', 'emaDecay'] as const) {
    if (!(config[key] >= 0 && config[key] < 1)) throw new AppError('CONFIG_INVALID', `training option '${key}' must be in [0, 1), got ${config[key]}`);
  }
  if (!['auto', 'tensorflow', 'wasm', 'cpu'].includes(config.backend)) {
    throw new AppError('CONFIG_INVALID', `training option 'backend' must be auto, tensorflow, wasm or cpu, got ${config.backend}`);
  }
  return Object.freeze(config);
}

export { AUGMENT_DEFAULTS };
