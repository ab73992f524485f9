import { NUM_CLASSES } from '../data/mnist';
import { createRng } from '../data/rng';

/**
 * What training, export, serving and evaluation all compute from class scores: softmax, argmax, NLL,
 * calibration error, and the summary of a run over labelled images. No dependency on tfjs or onnxruntime.
 */

/** Row-wise softmax of logits [n, k] divided by `temperature`. */
export function softmax(logits: Float32Array, temperature = 1, k = NUM_CLASSES): Float32Array {
  const out = new Float32Array(logits.length);
  for (let r = 0; r < logits.length / k; r++) {
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, logits[r * k + j] / temperature);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += out[r * k + j] = Math.exp(logits[r * k + j] / temperature - max);
    for (let j = 0; j < k; j++) out[r * k + j] /= sum;
  }
  return out;
}

export function argmaxRows(values: Float32Array, k = NUM_CLASSES): Int32Array {
  const out = new Int32Array(values.length / k);
  for (let r = 0; r < out.length; r++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (values[r * k + j] > values[r * k + best]) best = j;
    out[r] = best;
  }
  return out;
}

/** Mean negative log-likelihood of `labels` under softmax(logits / T). */
export function nll(logits: Float32Array, labels: ArrayLike<number>, temperature = 1): number {
  const p = softmax(logits, temperature);
  let sum = 0;
  for (let i = 0; i < labels.length; i++) sum -= Math.log(Math.max(p[i * NUM_CLASSES + labels[i]], 1e-12));
  return sum / labels.length;
}

/**
 * Expected calibration error accumulated one answer at a time (equal-width confidence bins), for runs
 * over more images than should be held in memory.
 */
export function createEceAccumulator(bins = 15): { add(confidence: number, right: boolean): void; value(): number } {
  const conf = new Float64Array(bins);
  const acc = new Float64Array(bins);
  let n = 0;
  return {
    add(c, right) {
      const b = Math.min(bins - 1, Math.floor(c * bins));
      conf[b] += c;
      acc[b] += right ? 1 : 0;
      n++;
    },
    value() {
      let ece = 0;
      for (let b = 0; b < bins; b++) ece += Math.abs(acc[b] - conf[b]);
      return n > 0 ? ece / n : 0;
    },
  };
}

/**
 * The ECE that answers calibrated exactly would still show on this many answers at these confidences:
 * the mean over `draws` of the ECE with each answer right with its own confidence (seeded). Binned ECE
 * counts sampling noise as error, and on a few hundred answers spread over the bins that noise is of
 * the order of 0.02, so a measured ECE says little below this line. The order of `confidences` does not
 * matter.
 */
export function eceFloor(confidences: readonly number[], bins = 15, draws = 200, seed = 1): number {
  const rng = createRng(seed);
  const sorted = [...confidences].sort((a, b) => a - b);
  let sum = 0;
  for (let d = 0; d < draws; d++) {
    const ece = createEceAccumulator(bins);
    for (const c of sorted) ece.add(c, rng.next() < c);
    sum += ece.value();
  }
  return confidences.length ? sum / draws : 0;
}

/** Expected calibration error with equal-width confidence bins (15 by default). */
export function expectedCalibrationError(probs: Float32Array, labels: ArrayLike<number>, bins = 15): number {
  const ece = createEceAccumulator(bins);
  const pred = argmaxRows(probs);
  for (let i = 0; i < labels.length; i++) ece.add(probs[i * NUM_CLASSES + pred[i]], pred[i] === labels[i]);
  return ece.value();
}

export interface Evaluation {
  count: number;
  accuracy: number;
  loss: number;
  perClassAccuracy: number[];
  /** confusion[true][predicted] */
  confusion: number[][];
  ece: number;
}

/** Accuracy, per-class accuracy, confusion matrix, NLL and ECE of logits against labels. */
export function evaluateLogits(logits: Float32Array, labels: ArrayLike<number>, temperature = 1): Evaluation {
  const probs = softmax(logits, temperature);
  const pred = argmaxRows(probs);
  const confusion = Array.from({ length: NUM_CLASSES }, () => new Array<number>(NUM_CLASSES).fill(0));
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    confusion[labels[i]][pred[i]]++;
    if (pred[i] === labels[i]) correct++;
  }
  return {
    count: labels.length,
    accuracy: correct / labels.length,
    loss: nll(logits, labels, temperature),
    perClassAccuracy: confusion.map((row, c) => row[c] / Math.max(1, row.reduce((a, b) => a + b, 0))),
    confusion,
    ece: expectedCalibrationError(probs, labels),
  };
}

/** Levenshtein distance: the characters a reading got wrong, missed or added. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

/** The digits of `label` a reading got right: its length less the edits from the reading to it, never below 0. */
export const digitsRight = (reading: string, label: string): number => Math.max(0, label.length - editDistance(reading, label));
