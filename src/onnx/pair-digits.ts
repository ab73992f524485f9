import { onnx } from 'onnx-proto';
import { AppError } from '../errors';
import { createRng, shuffleInPlace } from '../data/rng';
import { addMlpHead, type FitOptions } from './digit-score';

/**
 * The pair reader: a head that reads a box holding two digits run together as the pair it spells, one
 * of the 100 classes "00" to "99" (class 10·a + b: a on the left). The network, trained on one centred
 * digit, reads such a box confidently as one digit; cutting it between the digits works only where a
 * straight cut separates them, and slanted touching digits share columns. The head reads the box whole:
 * [N, 101] = softmax(relu(fc1 · w1 + b1) · w2 + b2), on the same fc1 features as the score heads (the
 * spec's layers are not touched). The 101st class, fitted on single digits and non-digit marks, lets
 * the head say that a box holds no pair: a letter read as a pair would otherwise get a confident pair.
 */
export const PAIR_DIGITS_OUTPUT = 'pair_digits';
/** The pairs "00" to "99"; a last class says the box is no pair of digits (one digit, a letter, a mark). */
export const PAIR_CLASSES = 100;
export const NOT_A_PAIR = PAIR_CLASSES;
export const PAIR_DIGITS_WIDTH = PAIR_CLASSES + 1;

export interface ClassHead {
  w1: Float32Array; // [features, hidden]
  b1: Float32Array; // [hidden]
  w2: Float32Array; // [hidden, classes]
  b2: Float32Array; // [classes]
  /** What the card and the model's metadata record about the fit. */
  info?: Record<string, unknown>;
}

/** The score heads' fit options; a wider hidden layer for 101 classes than for one score. */
export const CLASS_FIT_DEFAULTS: Readonly<FitOptions> = Object.freeze({ hidden: 384, epochs: 10, batchSize: 64, learningRate: 1e-3, l2: 1e-4, seed: 3 });

/**
 * A small MLP (features → `hidden` ReLU → `classes`, softmax cross-entropy) fitted on rows of `features`
 * labelled `labels`; the features are divided by their largest value while fitting and that scale folded
 * into w1. Minibatch Adam with seeded weights and order: the same data give the same head. fc1's
 * features are ReLU outputs, about half zeros, which the loops skip.
 * @example const head = fitClassHead(pairFeatures, pairLabels, 1000, 100);
 */
export function fitClassHead(features: Float32Array, labels: ArrayLike<number>, d: number, classes: number, partial: Partial<FitOptions> = {},
  log: (epoch: number, loss: number) => void = () => {}): ClassHead {
  const o = { ...CLASS_FIT_DEFAULTS, ...partial };
  const n = features.length / d, h = o.hidden;
  if (!Number.isInteger(n) || n === 0 || labels.length !== n) throw new AppError('CONFIG_INVALID', `a class head's fit needs whole rows of ${d} features, one label each`);
  for (let i = 0; i < n; i++) if (!(labels[i] >= 0 && labels[i] < classes)) throw new AppError('CONFIG_INVALID', `label ${labels[i]} is not one of the ${classes} classes`);
  let top = 0;
  for (const f of features) if (f > top) top = f;
  const scale = top > 0 ? 1 / top : 1;
  const rng = createRng(o.seed);
  const w1 = new Float32Array(d * h).map(() => rng.uniform(-1, 1) * Math.sqrt(6 / d)), b1 = new Float32Array(h);
  const w2 = new Float32Array(h * classes).map(() => rng.uniform(-1, 1) * Math.sqrt(6 / h)), b2 = new Float32Array(classes);
  const params = [w1, b1, w2, b2], decays = [true, false, true, false];
  const grads = params.map((p) => new Float32Array(p.length));
  const m1 = params.map((p) => new Float32Array(p.length)), m2 = params.map((p) => new Float32Array(p.length));
  const [g1, gb1, g2, gb2] = grads;
  const a = new Float32Array(h), out = new Float32Array(classes), da = new Float32Array(h);
  const order = Array.from({ length: n }, (_, i) => i);
  let step = 0;
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    shuffleInPlace(order, rng);
    let loss = 0;
    for (let start = 0; start < n; start += o.batchSize) {
      const batch = order.slice(start, start + o.batchSize);
      for (const g of grads) g.fill(0);
      for (const i of batch) {
        const x = features.subarray(i * d, (i + 1) * d);
        classForward(w1, b1, w2, b2, x, scale, a, out);
        loss -= Math.log(Math.max(1e-12, out[labels[i]]));
        out[labels[i]] -= 1; // d loss / d logits
        da.fill(0);
        for (let u = 0; u < h; u++) {
          if (a[u] <= 0) continue;
          let back = 0;
          const row = u * classes;
          for (let c = 0; c < classes; c++) { g2[row + c] += a[u] * out[c]; back += w2[row + c] * out[c]; }
          da[u] = back;
        }
        for (let c = 0; c < classes; c++) gb2[c] += out[c];
        for (let j = 0; j < d; j++) {
          const xj = x[j] * scale;
          if (xj === 0) continue;
          const row = j * h;
          for (let u = 0; u < h; u++) if (da[u] !== 0) g1[row + u] += xj * da[u];
        }
        for (let u = 0; u < h; u++) gb1[u] += da[u];
      }
      step++;
      const c1 = 1 - 0.9 ** step, c2 = 1 - 0.999 ** step;
      params.forEach((p, q) => {
        const g = grads[q], m = m1[q], v = m2[q];
        for (let k = 0; k < p.length; k++) {
          const gk = g[k] / batch.length + (decays[q] ? o.l2 * p[k] : 0);
          m[k] = 0.9 * m[k] + 0.1 * gk;
          v[k] = 0.999 * v[k] + 0.001 * gk * gk;
          p[k] -= (o.learningRate * (m[k] / c1)) / (Math.sqrt(v[k] / c2) + 1e-8);
        }
      });
    }
    log(epoch + 1, loss / n);
  }
  for (let k = 0; k < w1.length; k++) w1[k] *= scale;
  return { w1, b1, w2, b2 };
}

/** One row's softmax into `out` (the hidden activations into `a`), `x` multiplied by `scale`. */
function classForward(w1: Float32Array, b1: Float32Array, w2: Float32Array, b2: Float32Array, x: Float32Array, scale: number, a: Float32Array, out: Float32Array): void {
  const h = b1.length, classes = b2.length;
  a.set(b1);
  for (let j = 0; j < x.length; j++) {
    const xj = x[j] * scale;
    if (xj === 0) continue;
    const row = j * h;
    for (let u = 0; u < h; u++) a[u] += xj * w1[row + u];
  }
  out.set(b2);
  for (let u = 0; u < h; u++) {
    if (a[u] <= 0) { a[u] = 0; continue; }
    const row = u * classes;
    for (let c = 0; c < classes; c++) out[c] += a[u] * w2[row + c];
  }
  let max = -Infinity, sum = 0;
  for (let c = 0; c < classes; c++) max = Math.max(max, out[c]);
  for (let c = 0; c < classes; c++) { out[c] = Math.exp(out[c] - max); sum += out[c]; }
  for (let c = 0; c < classes; c++) out[c] /= sum;
}

/** The head's softmax for each row of `features`, as the graph computes it ([rows, classes]). */
export function classProbabilities(head: ClassHead, features: Float32Array): Float32Array {
  const h = head.b1.length, d = head.w1.length / h, classes = head.b2.length, n = features.length / d;
  const probs = new Float32Array(n * classes), a = new Float32Array(h);
  for (let i = 0; i < n; i++) classForward(head.w1, head.b1, head.w2, head.b2, features.subarray(i * d, (i + 1) * d), 1, a, probs.subarray(i * classes, (i + 1) * classes));
  return probs;
}

/**
 * The model with the head (any earlier one of the same name replaced): Gemm on `fc1/out`, ReLU, Gemm,
 * Softmax, as graph output `output` [N, classes]; `head.info` goes into the metadata under that name.
 */
export function addClassHead(model: Uint8Array, head: ClassHead, output = PAIR_DIGITS_OUTPUT): Uint8Array {
  return addMlpHead(model, output, head, { opType: 'Softmax', logits: 'logits', attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] }, head.info);
}
