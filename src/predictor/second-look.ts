import { IMAGE_SIZE, PIXELS } from '../data/mnist';
import { type Prediction, toPrediction } from '../inference/postprocess';

/**
 * The shifts (dx, dy in pixels of the 28×28 input) of a number's second look. The line's characters are
 * cropped from a photo's strokes, so each is centred a pixel or so off the way MNIST centres its digits;
 * the model's mean over its readings of the character moved by one pixel each way mends the readings
 * that hang on that pixel (docs/reading-numbers.md, "A second look").
 */
export const SECOND_LOOK_SHIFTS: readonly (readonly [number, number])[] = [[1, 0], [-1, 0], [0, 1], [0, -1]];

/**
 * A 28×28 input moved by (dx, dy) pixels, the background (0) coming in at the edges.
 * @example shifted(input, 1, 0) // the ink one pixel to the right; the rightmost column falls off
 */
export function shifted(input: Float32Array, dx: number, dy: number): Float32Array {
  const out = new Float32Array(PIXELS);
  for (let y = Math.max(0, dy); y < Math.min(IMAGE_SIZE, IMAGE_SIZE + dy); y++) {
    const from = (y - dy) * IMAGE_SIZE - dx;
    for (let x = Math.max(0, dx); x < Math.min(IMAGE_SIZE, IMAGE_SIZE + dx); x++) out[y * IMAGE_SIZE + x] = input[from + x];
  }
  return out;
}

/**
 * The element-wise mean of the model's output rows for one character: every column of a row is a
 * probability or a score in [0, 1], so their mean is the reading of the character's looks together.
 */
export function meanRow(rows: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(rows[0].length);
  for (const row of rows) for (let i = 0; i < out.length; i++) out[i] += row[i];
  for (let i = 0; i < out.length; i++) out[i] /= rows.length;
  return out;
}

/**
 * What a character reads after its second look, from its first reading and the model's rows for it as
 * cut and as moved (`rows[0]` the first look's): their mean's reading where both take the character for
 * a digit and the mean reads another one, else the first reading as it was. Whether it is a digit at
 * all stays the first look's: the digit-score head and the lines that refuse letters and symbols were
 * fitted on first looks, and a mean that lifts a mark over the line would answer a letter as a digit.
 * Where the looks agree the first one's probability stands: the mean is less sure of clear digits as
 * well, and the number's calibration maps first looks.
 */
export function secondReading(first: Prediction, rows: readonly Float32Array[], minDigitScore: number): Prediction {
  if (first.isDigit === false) return first;
  const again = toPrediction(meanRow(rows), minDigitScore);
  return again.digit !== first.digit && again.isDigit !== false ? again : first;
}
