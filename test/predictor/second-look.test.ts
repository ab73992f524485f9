import { toPrediction } from '../../src/inference/postprocess';
import { meanRow, SECOND_LOOK_SHIFTS, secondReading, shifted } from '../../src/predictor/second-look';

/** A 28×28 input with ink (1) at the given (x, y) pixels. */
function inked(...points: [number, number][]): Float32Array {
  const input = new Float32Array(784);
  for (const [x, y] of points) input[y * 28 + x] = 1;
  return input;
}

const inkAt = (input: Float32Array) => Array.from(input).flatMap((v, i) => (v ? [[i % 28, Math.floor(i / 28), v]] : []));

describe('shifted', () => {
  it('moves the ink by (dx, dy), right and down for positive shifts', () => {
    expect(inkAt(shifted(inked([5, 7], [20, 3]), 1, 0))).toEqual([[21, 3, 1], [6, 7, 1]]);
    expect(inkAt(shifted(inked([5, 7]), 0, -1))).toEqual([[5, 6, 1]]);
    expect(inkAt(shifted(inked([5, 7]), -1, 1))).toEqual([[4, 8, 1]]);
  });

  it('drops the ink that leaves the frame and brings in background', () => {
    expect(inkAt(shifted(inked([27, 0], [0, 27]), 1, 0))).toEqual([[1, 27, 1]]);
    expect(inkAt(shifted(inked([27, 0], [0, 27]), 0, -1))).toEqual([[0, 26, 1]]);
    expect(inkAt(shifted(inked([0, 0], [27, 27]), -1, 0))).toEqual([[26, 27, 1]]);
  });

  it('leaves its input as it was', () => {
    const input = inked([3, 3]);
    shifted(input, 1, 1);
    expect(inkAt(input)).toEqual([[3, 3, 1]]);
  });

  it('looks one pixel each way, never in place (the first look is the character as cut)', () => {
    expect(SECOND_LOOK_SHIFTS.map(([dx, dy]) => Math.abs(dx) + Math.abs(dy))).toEqual([1, 1, 1, 1]);
    expect(new Set(SECOND_LOOK_SHIFTS.map((s) => s.join())).size).toBe(SECOND_LOOK_SHIFTS.length);
  });
});

describe('meanRow', () => {
  it('averages every column of the rows', () => {
    const mean = meanRow([Float32Array.of(1, 0, 0.5), Float32Array.of(0, 0, 0.25), Float32Array.of(0.5, 0.3, 0)]);
    [0.5, 0.1, 0.25].forEach((v, i) => expect(mean[i]).toBeCloseTo(v, 6));
  });

  it('keeps a column the model does not have (NaN) missing', () => {
    expect(Number.isNaN(meanRow([Float32Array.of(1, NaN), Float32Array.of(0, NaN)])[1])).toBe(true);
  });
});

describe('secondReading', () => {
  /** A model row: `p` on `digit`, the rest spread evenly, then the digit score. */
  const row = (digit: number, p: number, score: number) => Float32Array.from([...Array.from({ length: 10 }, (_, d) => (d === digit ? p : (1 - p) / 9)), score]);

  it('answers with the mean where the looks read another digit', () => {
    const first = toPrediction(row(7, 0.6, 0.9));
    const again = secondReading(first, [row(7, 0.6, 0.9), row(2, 0.9, 0.9), row(2, 0.8, 0.9), row(2, 0.7, 0.95), row(7, 0.5, 0.9)], 0.5);
    expect(again.digit).toBe(2);
    expect(again.probability).toBeCloseTo((0.9 + 0.8 + 0.7 + 2 * (0.4 / 9 + 0.5 / 9) / 2) / 5, 5);
  });

  it('leaves whether it is a digit to the first look, either way', () => {
    const refused = toPrediction(row(3, 0.9, 0.4));
    expect(secondReading(refused, [row(3, 0.9, 0.4), row(5, 0.9, 0.7), row(5, 0.9, 0.7), row(5, 0.9, 0.6), row(5, 0.9, 0.6)], 0.5)).toBe(refused);
    const digit = toPrediction(row(3, 0.9, 0.6));
    expect(secondReading(digit, [row(3, 0.9, 0.6), row(5, 0.9, 0.3), row(5, 0.9, 0.3), row(5, 0.9, 0.4), row(5, 0.9, 0.4)], 0.5)).toBe(digit);
  });

  it('keeps the first reading, its probability too, where the looks agree', () => {
    const first = toPrediction(row(4, 0.99, 0.98));
    expect(secondReading(first, [row(4, 0.99, 0.98), row(4, 0.7, 0.9), row(4, 0.8, 0.9), row(9, 0.6, 0.9), row(4, 0.9, 0.9)], 0.5)).toBe(first);
  });
});
