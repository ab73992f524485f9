import * as tf from '@tensorflow/tfjs';
import { AppError } from '../errors';
import { IMAGE_SIZE, NUM_CLASSES } from '../data/mnist';

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

/**
 * Builds the branched CNN: conv1 → {conv2_1→conv3_1, conv2_2→conv3_2} → conv3 (concat) → fc1 → fc2 → output.
 * The model's output is the softmax; the layer named `output` yields the logits.
 * @example createModel().countParams() // 25927246
 */
export function createModel(partial: Partial<ModelConfig> = {}): tf.LayersModel {
  const c = resolveModelConfig(partial);
  let seed = c.seed;
  const init = () => tf.initializers.glorotUniform({ seed: seed++ });
  const conv = (name: string, filters: number) =>
    tf.layers.conv2d({ name, filters, kernelSize: c.kernelSize, padding: 'same', activation: 'relu', kernelInitializer: init() });
  const pool = (name: string) => tf.layers.maxPooling2d({ name, poolSize: 2, strides: 2 });
  const dropout = (name: string) => tf.layers.dropout({ name, rate: c.dropout, seed: seed++ });

  const input = tf.input({ shape: [IMAGE_SIZE, IMAGE_SIZE, 1], name: 'image' });
  const p1 = pool('pool1').apply(conv('conv1', c.conv1Filters).apply(input)) as tf.SymbolicTensor;
  const branch = (k: string) => {
    const p2 = pool(`pool2_${k}`).apply(conv(`conv2_${k}`, c.conv2Filters).apply(p1));
    return conv(`conv3_${k}`, c.conv3Filters).apply(p2) as tf.SymbolicTensor;
  };
  const joined = tf.layers.concatenate({ name: 'conv3', axis: -1 }).apply([branch('1'), branch('2')]) as tf.SymbolicTensor;
  let h = tf.layers.flatten({ name: 'flatten' }).apply(joined) as tf.SymbolicTensor;
  h = tf.layers.dense({ name: 'fc1', units: c.fc1Units, activation: 'relu', kernelInitializer: init() }).apply(h) as tf.SymbolicTensor;
  if (c.dropout > 0) h = dropout('fc1/dropout').apply(h) as tf.SymbolicTensor;
  h = tf.layers.dense({ name: 'fc2', units: c.fc2Units, activation: 'relu', kernelInitializer: init() }).apply(h) as tf.SymbolicTensor;
  if (c.dropout > 0) h = dropout('fc2/dropout').apply(h) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ name: 'output', units: NUM_CLASSES, kernelInitializer: init() }).apply(h) as tf.SymbolicTensor;
  const probs = tf.layers.activation({ name: 'probabilities', activation: 'softmax' }).apply(logits) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: probs, name: 'mnist_branched_cnn' });
}

/** A model sharing `model`'s layers whose output is the logits (the `output` layer). */
export function logitsModel(model: tf.LayersModel): tf.LayersModel {
  return tf.model({ inputs: model.inputs, outputs: model.getLayer('output').output as tf.SymbolicTensor });
}
