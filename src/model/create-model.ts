import * as tf from '@tensorflow/tfjs';
import { IMAGE_SIZE, NUM_CLASSES } from '../data/mnist';
import { resolveModelConfig, ModelConfig } from './config';

export { LAYER_NAMES, MODEL_DEFAULTS, DEFAULT_PARAM_COUNT, resolveModelConfig } from './config';
export type { ModelConfig } from './config';

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
