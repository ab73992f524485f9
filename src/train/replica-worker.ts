import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../backend/select-backend';
import { copyTensorInto } from '../backend/tensor-memory';
import { createModel, logitsModel } from '../model/create-model';
import { loadModel, saveModel } from '../model/io';
import { augmentInto, copyInto } from '../data/augment';
import { createRng } from '../data/rng';
import { NUM_CLASSES, PIXELS } from '../data/mnist';
import { composePair } from '../data/outliers';
import { adamShardUpdate } from './adam';
import { answerTasks, Transfer } from '../workers/protocol';
import type { InitRequest, TrainProtocol } from './protocol';

/**
 * One data-parallel replica. Each step it computes gradients on its share of the batch into its shared
 * slot; then every worker Adam-updates its own shard of the shared weights from the sum of the slots
 * (the optimizer work is split, not repeated); then every worker copies the shared weights into its
 * model. The replicas therefore hold identical weights at every step.
 */
const PROFILE = process.env.TRAIN_PROFILE === '1';
let init: InitRequest;
let model: tf.LayersModel;
let logits: tf.LayersModel;
let vars: tf.Variable[];
let images: Uint8Array;
let labels: Uint8Array;
let testImages: Uint8Array;
let outlierMarks: Uint8Array;
const pairImage = new Uint8Array(PIXELS);
let slots: Float32Array[] = [];
let weights: Float32Array;
let adamM: Float32Array;
let adamV: Float32Array;
let ema: Float32Array;

const profile = (what: string, t0: number) => { if (PROFILE) console.error(`worker ${init.workerIndex}: ${what} ${(performance.now() - t0).toFixed(0)} ms`); };

/**
 * The step's rows: the digits (one-hot targets), then the marks and the pairs (1/10 for every class),
 * each augmented as the digits are. `weights` makes the summed loss the digits' mean loss plus
 * outlierWeight × the outliers' mean loss.
 */
function batchTensors(msg: { indices: Int32Array; marks: Int32Array; pairs: Int32Array; step: number }): { x: tf.Tensor4D; y: tf.Tensor2D; w: tf.Tensor1D } {
  const { indices, marks, pairs } = msg;
  const digits = indices.length;
  const outliers = marks.length + pairs.length / 2;
  const n = digits + outliers;
  const xs = new Float32Array(n * PIXELS);
  const ys = new Float32Array(n * NUM_CLASSES);
  const ws = new Float32Array(n);
  const rng = createRng((init.seed * 1_000_003 + msg.step * 7919 + init.workerIndex) >>> 0);
  const put = (source: Uint8Array, index: number, i: number) => {
    if (init.augment) augmentInto(source, index, xs, i, rng, init.augment);
    else copyInto(source, index, xs, i);
  };
  const off = init.labelSmoothing / NUM_CLASSES;
  for (let i = 0; i < digits; i++) {
    put(images, indices[i], i);
    ys.fill(off, i * NUM_CLASSES, (i + 1) * NUM_CLASSES);
    ys[i * NUM_CLASSES + labels[indices[i]]] = 1 - init.labelSmoothing + off;
    ws[i] = 1 / digits;
  }
  for (let k = 0; k < outliers; k++) {
    const i = digits + k;
    if (k < marks.length) put(outlierMarks, marks[k], i);
    else {
      const p = k - marks.length;
      composePair(images, pairs[2 * p], pairs[2 * p + 1], rng, pairImage);
      put(pairImage, 0, i);
    }
    ys.fill(1 / NUM_CLASSES, i * NUM_CLASSES, (i + 1) * NUM_CLASSES);
    ws[i] = init.outlierWeight / outliers;
  }
  return { x: tf.tensor4d(xs, [n, 28, 28, 1]), y: tf.tensor2d(ys, [n, NUM_CLASSES]), w: tf.tensor1d(ws) };
}

/**
 * tfjs's Dropout draws its mask from a generator seeded anew on every call, so a fixed seed gives the same
 * mask at every step. A seed derived from (seed, step, worker, layer) keeps runs reproducible and the masks fresh.
 */
function reseedDropout(step: number): void {
  model.layers.forEach((layer, i) => {
    if (layer.getClassName() === 'Dropout') {
      (layer as unknown as { seed: number }).seed = (init.seed * 2_654_435_761 + step * 40_503 + init.workerIndex * 977 + i) >>> 0;
    }
  });
}

function pull(source: Float32Array): void {
  let off = 0;
  for (const v of vars) {
    // A new tensor per variable: the wasm backend caches packed weights per tensor, so writing into the
    // old tensor's memory would leave stale packed copies behind.
    const t = tf.tensor(source.subarray(off, off + v.size), v.shape);
    v.assign(t);
    t.dispose();
    off += v.size;
  }
}

function push(): void {
  let off = 0;
  for (const v of vars) {
    copyTensorInto(v, weights, off);
    off += v.size;
  }
}

answerTasks<TrainProtocol>({
  async init(msg) {
    init = msg;
    const backend = await selectBackend(msg.backend);
    model = createModel(msg.modelConfig);
    logits = logitsModel(model);
    vars = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
    images = new Uint8Array(msg.trainImages);
    labels = new Uint8Array(msg.trainLabels);
    testImages = new Uint8Array(msg.testImages);
    outlierMarks = new Uint8Array(msg.outlierMarks);
    if (msg.shared) {
      const { numParams, gradSlots } = msg.shared;
      slots = Array.from({ length: msg.numWorkers }, (_, w) => new Float32Array(gradSlots, w * numParams * 4, numParams));
      weights = new Float32Array(msg.shared.weights);
      adamM = new Float32Array(msg.shared.adamM);
      adamV = new Float32Array(msg.shared.adamV);
      ema = new Float32Array(msg.shared.ema);
    }
    return { backend, numParams: model.countParams() };
  },
  step(msg) {
    const t0 = performance.now();
    const { x, y, w } = batchTensors(msg);
    const digits = msg.indices.length;
    const outliers = x.shape[0] - digits;
    reseedDropout(msg.step);
    let correct = 0;
    let digitLoss = 0;
    const { value, grads } = tf.variableGrads(() => {
      const out = logits.apply(x, { training: true }) as tf.Tensor2D;
      const rowLoss = tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(out)), 1));
      tf.tidy(() => {
        const head = tf.slice(out, [0, 0], [digits, NUM_CLASSES]);
        correct = tf.equal(tf.argMax(head, 1), tf.argMax(tf.slice(y, [0, 0], [digits, NUM_CLASSES]), 1)).sum().dataSync()[0];
        digitLoss = tf.mean(tf.slice(rowLoss, [0], [digits])).dataSync()[0];
      });
      return tf.sum(tf.mul(rowLoss, w)) as tf.Scalar;
    }, vars);
    const total = value.dataSync()[0];
    const outlierLoss = outliers > 0 ? (total - digitLoss) / init.outlierWeight : 0;
    const t1 = performance.now();
    const slot = slots[init.workerIndex];
    let off = 0;
    for (const v of vars) {
      copyTensorInto(grads[v.name], slot, off);
      off += v.size;
    }
    tf.dispose([x, y, w, value, grads]);
    profile(`grads ${(t1 - t0).toFixed(0)} ms, to slot`, t1);
    return { loss: digitLoss, outlierLoss, correct, count: digits, outliers };
  },
  update(msg) {
    const t0 = performance.now();
    const n = weights.length;
    const per = Math.ceil(n / init.numWorkers);
    const lo = init.workerIndex * per;
    const hi = Math.min(n, lo + per);
    adamShardUpdate(weights, adamM, adamV, slots, msg.scales, lo, hi, msg.lr, msg.t);
    if (msg.emaDecay > 0) {
      const c = 1 - msg.emaDecay;
      for (let i = lo; i < hi; i++) ema[i] += c * (weights[i] - ema[i]);
    }
    profile('adam shard', t0);
    return {};
  },
  pull(msg) {
    const t0 = performance.now();
    pull(msg.from === 'ema' ? ema : weights);
    profile('pull', t0);
    return {};
  },
  push() {
    push();
    return {};
  },
  logits(msg) {
    const src = msg.set === 'train' ? images : testImages;
    const out = new Float32Array(msg.indices.length * NUM_CLASSES);
    const chunk = 256;
    for (let start = 0; start < msg.indices.length; start += chunk) {
      const idx = msg.indices.subarray(start, start + chunk);
      const xs = new Float32Array(idx.length * PIXELS);
      idx.forEach((j, i) => copyInto(src, j, xs, i));
      const res = tf.tidy(() => logits.predict(tf.tensor4d(xs, [idx.length, 28, 28, 1])) as tf.Tensor);
      out.set(res.dataSync() as Float32Array, start * NUM_CLASSES);
      res.dispose();
    }
    return new Transfer({ logits: out }, [out.buffer as ArrayBuffer]);
  },
  async save(msg) {
    await saveModel(model, msg.dir);
    return {};
  },
  async load(msg) {
    const loaded = await loadModel(msg.dir);
    model.setWeights(loaded.getWeights());
    loaded.dispose();
    return {};
  },
}, 'MODEL_INVALID');
