import { argmaxRows } from '../metrics/classification';

export interface Prediction {
  digit: number;
  probability: number;
  probabilities: number[];
}

/**
 * The answer for one image from its calibrated probabilities.
 * @example toPrediction(Float32Array.of(0, 0, 0, 0, 0, 0, 0, 0.9991, 0.0009, 0)) // { digit: 7, probability: 0.9991, ... }
 */
export function toPrediction(probs: Float32Array): Prediction {
  const digit = argmaxRows(probs)[0];
  const probabilities = Array.from(probs, (p) => Number(p.toPrecision(6)));
  return { digit, probability: probabilities[digit], probabilities };
}
