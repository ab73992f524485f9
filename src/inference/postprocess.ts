import { argmaxRows } from '../metrics/classification';
import { NUM_CLASSES } from '../data/mnist';
import { PAIR_CLASSES, PAIR_DIGITS_WIDTH } from '../onnx/pair-digits';
import { DIGIT_SCORE_COLUMN, PAIR_DIGITS_COLUMN, PAIR_SCORE_COLUMN } from './protocol';

/** One character of a reading: the digit (null when it is not one, under the refusing policy) and where it is. */
export interface DigitReading {
  digit: number | null;
  probability: number;
  probabilities: number[];
  /** In the uploaded picture's pixels. */
  box: { x: number; y: number; width: number; height: number };
  digitScore?: number;
  isDigit?: boolean;
}

export interface Prediction {
  /** The digit; for a number of several digits, its leftmost digit. */
  digit: number;
  /** The probability of the whole reading: the digit's, or for several digits the product of each one's probability × digit score; either way × 0.3 for one the pair score takes for two digits. */
  probability: number;
  probabilities: number[];
  /**
   * How much the picture looks like a digit at all, in [0, 1], from the model's digit-score head;
   * absent when the model has none. `isDigit` is `digitScore >= minDigitScore`.
   */
  digitScore?: number;
  isDigit?: boolean;
  /** The digits read, left to right ("7", "2026"); set by the predictor. */
  number?: string;
  /** Each digit of `number` with its probabilities and box; set by the predictor. */
  digits?: DigitReading[];
}

/** The score at or above which a picture counts as a digit: the head is fitted so that 0.5 is its line. */
export const DEFAULT_MIN_DIGIT_SCORE = 0.5;

/**
 * A mark found in a photo counts as a digit only when its probability × digit score reaches this as
 * well. The head alone lets through marks it half believes (0.5–0.9) that the model cannot read as
 * one clear digit either; a hard digit is usually clear to one of the two (docs/not-a-digit.md).
 */
export const DEFAULT_MIN_DIGIT_WORTH = 0.5;

/**
 * The answer for one image from its row of the model's outputs: the calibrated probabilities, then (when
 * the row has it and it is a number) the digit score.
 * @example toPrediction(Float32Array.of(0, 0, 0, 0, 0, 0, 0, 0.9991, 0.0009, 0, 0.97)) // { digit: 7, probability: 0.9991, ..., digitScore: 0.97, isDigit: true }
 */
export function toPrediction(row: Float32Array, minDigitScore = DEFAULT_MIN_DIGIT_SCORE): Prediction {
  const probs = row.subarray(0, NUM_CLASSES);
  const digit = argmaxRows(probs)[0];
  const probabilities = Array.from(probs, (p) => Number(p.toPrecision(6)));
  const prediction: Prediction = { digit, probability: probabilities[digit], probabilities };
  const score = row.length > DIGIT_SCORE_COLUMN ? row[DIGIT_SCORE_COLUMN] : NaN;
  if (!Number.isNaN(score)) {
    prediction.digitScore = Number(score.toPrecision(6));
    prediction.isDigit = score >= minDigitScore;
  }
  return prediction;
}

/**
 * How much the image looks like two digits run together into one mark, in [0, 1], from the model's
 * pair-score head; undefined when the model has none. Not part of the answer: the predictor uses it to
 * decide whether a lone mark may be cut into digits, which readings compete, and how much to doubt one
 * (src/predictor/read-number.ts).
 * @example pairScoreOf(Float32Array.of(0, 0, 0, 0, 0, 0, 0, 0.9991, 0.0009, 0, 0.97, 0.03)) // 0.03
 */
export function pairScoreOf(row: Float32Array): number | undefined {
  const score = row.length > PAIR_SCORE_COLUMN ? row[PAIR_SCORE_COLUMN] : NaN;
  return Number.isNaN(score) ? undefined : score;
}

/**
 * A box read as two digits run together, from the pair reader's probabilities: the likeliest pair, its
 * probability (the reader's own, which the "no pair" class takes from), and what each half reads (the
 * pairs' probabilities summed over the other half, out of all pairs).
 */
export interface PairReading {
  left: number;
  right: number;
  probability: number;
  leftProbabilities: number[];
  rightProbabilities: number[];
}

/**
 * The pair reader's reading of a row, or undefined when the model has no pair reader.
 * @example pairReadingOf(row) // { left: 4, right: 7, probability: 0.93, leftProbabilities: [...], rightProbabilities: [...] }
 */
export function pairReadingOf(row: Float32Array): PairReading | undefined {
  if (row.length < PAIR_DIGITS_COLUMN + PAIR_DIGITS_WIDTH || Number.isNaN(row[PAIR_DIGITS_COLUMN])) return undefined;
  const probs = row.subarray(PAIR_DIGITS_COLUMN, PAIR_DIGITS_COLUMN + PAIR_CLASSES);
  const best = argmaxRows(probs, PAIR_CLASSES)[0];
  const leftProbabilities = new Array<number>(NUM_CLASSES).fill(0), rightProbabilities = new Array<number>(NUM_CLASSES).fill(0);
  let pairs = 0;
  for (let c = 0; c < PAIR_CLASSES; c++) {
    leftProbabilities[Math.floor(c / NUM_CLASSES)] += probs[c];
    rightProbabilities[c % NUM_CLASSES] += probs[c];
    pairs += probs[c];
  }
  const share = (ps: number[]) => ps.map((p) => Number((p / (pairs || 1)).toPrecision(6)));
  return { left: Math.floor(best / NUM_CLASSES), right: best % NUM_CLASSES, probability: probs[best], leftProbabilities: share(leftProbabilities), rightProbabilities: share(rightProbabilities) };
}
