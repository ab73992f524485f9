import { AppError } from '../errors';

/**
 * The model's names and sizes, apart from tfjs: the CLI and the training config read them without
 * loading TensorFlow.js (the server's process never needs it).
 */

/** Layer names are part of the contract: the tfjs layer names and the ONNX node names. */
export const LAYER_NAMES = ['conv1', 'conv2_1', 'conv3_1', 'conv2_2', 'conv3_2', 'conv3', 'fc1', 'fc2', 'output'] as const;

export interface ModelConfig {
  conv1Filters: number; // channels of conv1
  conv2Filters: number; // channels of conv2_1 and conv2_2
  conv3Filters: number; // channels of conv3_1 and conv3_2 (conv3 has twice this)
  kernelSize: number; // square kernel side of every conv
  fc1Units: number;
  fc2Units: number;
  dropout: number; // rate between the dense layers while training, 0 disables
  seed: number; // initialiser seed
}

export const MODEL_DEFAULTS: Readonly<ModelConfig> = Object.freeze({
  conv1Filters: 32,
  conv2Filters: 64,
  conv3Filters: 256,
  kernelSize: 3,
  fc1Units: 1000,
  fc2Units: 500,
  dropout: 0.25,
  seed: 42,
});

/** Parameters of the default configuration, as the spec states it. */
export const DEFAULT_PARAM_COUNT = 25_927_246;

/** Merges and validates a model config; unknown keys and non-positive sizes are rejected. */
export function resolveModelConfig(partial: Partial<ModelConfig> = {}): ModelConfig {
  for (const key of Object.keys(partial)) {
    if (!(key in MODEL_DEFAULTS)) throw new AppError('CONFIG_INVALID', `unknown model option '${key}'`);
  }
  const config = { ...MODEL_DEFAULTS, ...partial };
  for (const key of ['conv1Filters', 'conv2Filters', 'conv3Filters', 'kernelSize', 'fc1Units', 'fc2Units'] as const) {
    if (!Number.isInteger(config[key]) || config[key] <= 0) {
      throw new AppError('CONFIG_INVALID', `model option '${key}' must be a positive integer, got ${config[key]}`);
    }
  }
  if (!(config.dropout >= 0 && config.dropout < 1)) {
    throw new AppError('CONFIG_INVALID', `model option 'dropout' must be in [0, 1), got ${config.dropout}`);
  }
  return Object.freeze(config);
}
