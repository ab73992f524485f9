import * as tf from '@tensorflow/tfjs';
import { AppError } from '../errors';
import { IMAGE_SIZE, NUM_CLASSES } from '../data/mnist';
import { DTYPE, GraphBuilder } from './graph-builder';

export interface ExportOptions {
  /** Dense layers whose weights become per-channel int8 (activations quantized at run time); [] = fp32. */
  quantize: string[];
  /** Softmax temperature fitted on the validation set. */
  temperature: number;
  producerVersion: string;
  metadata: Record<string, string>;
}

export const EXPORT_DEFAULTS: Readonly<ExportOptions> = Object.freeze({
  quantize: [],
  temperature: 1,
  producerVersion: '0.0.0',
  metadata: {},
});

/** The int8 variant quantizes the two big fully connected layers; `output` (5k weights) stays fp32. */
export const INT8_LAYERS = Object.freeze(['fc1']);

interface DenseWeights { kernel: Float32Array; bias: Float32Array; inUnits: number; outUnits: number }

function layerWeights(model: tf.LayersModel, name: string): Float32Array[] {
  let layer: tf.layers.Layer;
  try {
    layer = model.getLayer(name);
  } catch {
    throw new AppError('ONNX_EXPORT_UNSUPPORTED', `the model has no layer '${name}'`);
  }
  return layer.getWeights().map((w) => w.dataSync() as Float32Array);
}

/** tfjs conv kernel HWIO → ONNX OIHW. */
export function hwioToOihw(k: Float32Array, [h, w, i, o]: number[]): Float32Array {
  const out = new Float32Array(k.length);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < i; c++) for (let f = 0; f < o; f++) {
    out[((f * i + c) * h + y) * w + x] = k[((y * w + x) * i + c) * o + f];
  }
  return out;
}

/**
 * fc1's rows: tfjs flattens NHWC in (h, w, c) order, the ONNX graph flattens NCHW in (c, h, w) order.
 * Row (h·W + w)·C + c of the tfjs kernel becomes row c·H·W + h·W + w.
 */
export function permuteFlattenRows(kernel: Float32Array, h: number, w: number, c: number, units: number): Float32Array {
  const out = new Float32Array(kernel.length);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) {
    const src = ((y * w + x) * c + ch) * units;
    const dst = (ch * h * w + y * w + x) * units;
    out.set(kernel.subarray(src, src + units), dst);
  }
  return out;
}

/** Symmetric per-output-channel int8 quantization of a [K, N] kernel: W ≈ q[k, n] · scale[n]. */
export function quantizePerChannel(kernel: Float32Array, k: number, n: number): { q: Int8Array; scales: Float32Array } {
  const scales = new Float32Array(n);
  for (let r = 0; r < k; r++) for (let j = 0; j < n; j++) scales[j] = Math.max(scales[j], Math.abs(kernel[r * n + j]));
  for (let j = 0; j < n; j++) scales[j] = scales[j] > 0 ? scales[j] / 127 : 1;
  const q = new Int8Array(kernel.length);
  for (let r = 0; r < k; r++) for (let j = 0; j < n; j++) {
    q[r * n + j] = Math.max(-127, Math.min(127, Math.round(kernel[r * n + j] / scales[j])));
  }
  return { q, scales };
}

function samePads(k: number): [number, number] {
  const total = k - 1;
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/**
 * Builds the ONNX graph of a trained branched CNN from its tfjs weights.
 * Contract: input `image` float32 [N,1,28,28] in [0,1]; outputs `probabilities` (softmax(logits / T))
 * and `logits`, [N,10]; node names carry the layer names.
 * @example const bytes = exportOnnx(model, { quantize: ['fc1', 'fc2'], temperature: 1.2 });
 */
export function exportOnnx(model: tf.LayersModel, partial: Partial<ExportOptions> = {}): Uint8Array {
  const opts = { ...EXPORT_DEFAULTS, ...partial };
  if (!(opts.temperature > 0)) throw new AppError('ONNX_EXPORT_UNSUPPORTED', `temperature must be positive, got ${opts.temperature}`);
  const g = new GraphBuilder('mnist_branched_cnn');
  g.input('image', 'float32', ['N', 1, IMAGE_SIZE, IMAGE_SIZE]);

  const conv = (name: string, input: string): string => {
    const layer = model.getLayer(name);
    const cfg = layer.getConfig() as { padding: string; strides: number[]; dilationRate: number | number[]; activation: string };
    const dil = Array.isArray(cfg.dilationRate) ? cfg.dilationRate : [cfg.dilationRate, cfg.dilationRate];
    if (cfg.activation !== 'relu' || dil.some((d) => d !== 1)) {
      throw new AppError('ONNX_EXPORT_UNSUPPORTED', `conv layer '${name}' must be relu with dilation 1`);
    }
    const [kernel, bias] = layerWeights(model, name);
    const shape = layer.getWeights()[0].shape;
    const [kh, kw, ci, co] = shape;
    const [pt, pb] = cfg.padding === 'same' ? samePads(kh) : [0, 0];
    const [pl, pr] = cfg.padding === 'same' ? samePads(kw) : [0, 0];
    const w = g.initializer(`${name}.weight`, hwioToOihw(kernel, shape), [co, ci, kh, kw]);
    const b = g.initializer(`${name}.bias`, bias, [co]);
    const y = g.node('Conv', name, [input, w, b], [`${name}/conv`], {
      kernel_shape: [kh, kw], pads: [pt, pl, pb, pr], strides: cfg.strides, dilations: [1, 1],
    });
    return g.node('Relu', `${name}/relu`, [y], [`${name}/out`]);
  };
  const pool = (name: string, input: string) => {
    const layer = model.getLayer(name);
    const cfg = layer.getConfig() as { poolSize: number[]; strides: number[]; padding: string };
    if (cfg.padding !== 'valid') throw new AppError('ONNX_EXPORT_UNSUPPORTED', `pool layer '${name}' must use valid padding`);
    return g.node('MaxPool', name, [input], [`${name}/out`], { kernel_shape: cfg.poolSize, strides: cfg.strides });
  };

  const p1 = pool('pool1', conv('conv1', 'image'));
  const branch = (k: string) => conv(`conv3_${k}`, pool(`pool2_${k}`, conv(`conv2_${k}`, p1)));
  const joined = g.node('Concat', 'conv3', [branch('1'), branch('2')], ['conv3/out'], { axis: 1 });
  const flat = g.node('Flatten', 'conv3/flatten', [joined], ['conv3/flat'], { axis: 1 });
  const [, c, h, w] = g.shapeOf(joined) as number[];

  const dense = (name: string, input: string, relu: boolean, outName?: string): string => {
    const [kernel, bias] = layerWeights(model, name);
    const d: DenseWeights = { kernel, bias, inUnits: kernel.length / bias.length, outUnits: bias.length };
    const kernelRows = name === 'fc1' ? permuteFlattenRows(d.kernel, h, w, c, d.outUnits) : d.kernel;
    const out = relu ? `${name}/linear` : (outName ?? `${name}/out`);
    let y: string;
    if (opts.quantize.includes(name)) {
      const { q, scales } = quantizePerChannel(kernelRows, d.inUnits, d.outUnits);
      // Activations are quantized per row (per image), not per batch as DynamicQuantizeLinear would: with
      // one scale for the batch, an image's answer would depend on the other requests batched with it (a
      // picture with large activations coarsens every neighbour's). The inputs are ReLU outputs, so uint8
      // with zero point 0 covers them: scale = row max / 255.
      const rowMax = g.node('ReduceMax', `${name}/x_max`, [input], [`${name}/x_max_out`], { axes: [1], keepdims: 1 });
      const safeMax = g.node('Max', `${name}/x_max_safe`, [rowMax, g.initializer(`${name}.x_max_floor`, Float32Array.of(1e-30), [1])], [`${name}/x_max_safe_out`]);
      const xs = g.node('Div', `${name}/x_scale`, [safeMax, g.initializer(`${name}.uint8_max`, Float32Array.of(255), [1])], [`${name}/x_scale_out`]);
      const steps = g.node('Round', `${name}/x_round`, [g.node('Div', `${name}/x_steps`, [input, xs], [`${name}/x_steps_out`])], [`${name}/x_round_out`]);
      const clipped = g.node('Clip', `${name}/x_clip`, [steps, g.initializer(`${name}.q_min`, Float32Array.of(0), []), g.initializer(`${name}.q_max`, Float32Array.of(255), [])], [`${name}/x_clip_out`]);
      const xq = g.node('Cast', `${name}/quantize`, [clipped], [`${name}/x_q`], { to: DTYPE.uint8 });
      const wq = g.initializer(`${name}.weight_int8`, q, [d.inUnits, d.outUnits]);
      const acc = g.node('MatMulInteger', name, [xq, wq], [`${name}/acc`]);
      const accF = g.node('Cast', `${name}/cast`, [acc], [`${name}/acc_f`], { to: DTYPE.float32 });
      const ws = g.initializer(`${name}.weight_scale`, scales, [d.outUnits]);
      const perRow = g.node('Mul', `${name}/rescale_rows`, [accF, xs], [`${name}/scaled_rows`]);
      const scaled = g.node('Mul', `${name}/rescale`, [perRow, ws], [`${name}/scaled`]);
      y = g.node('Add', `${name}/bias`, [scaled, g.initializer(`${name}.bias`, d.bias, [d.outUnits])], [out]);
    } else {
      const wt = g.initializer(`${name}.weight`, kernelRows, [d.inUnits, d.outUnits]);
      y = g.node('Gemm', name, [input, wt, g.initializer(`${name}.bias`, d.bias, [d.outUnits])], [out]);
    }
    return relu ? g.node('Relu', `${name}/relu`, [y], [`${name}/out`]) : y;
  };

  const h1 = dense('fc1', flat, true);
  const h2 = dense('fc2', h1, true);
  const logits = dense('output', h2, false, 'logits');
  if (g.shapeOf(logits)[1] !== NUM_CLASSES) throw new AppError('ONNX_EXPORT_UNSUPPORTED', `output layer has ${g.shapeOf(logits)[1]} units, expected ${NUM_CLASSES}`);
  const scaled = g.node('Div', 'output/temperature', [logits, g.initializer('temperature', Float32Array.of(opts.temperature), [1])], ['logits/calibrated']);
  g.node('Softmax', 'output/softmax', [scaled], ['probabilities'], { axis: 1 });
  g.output('probabilities');
  g.output('logits');
  return g.toBytes({
    producerName: 'mnist-onnx',
    producerVersion: opts.producerVersion,
    docString: 'Branched MNIST CNN (conv1 → conv2_k → conv3_k, k = 1, 2 → conv3 → fc1 → fc2 → output), exported from TensorFlow.js by our own graph builder.',
    metadata: opts.metadata,
  });
}
