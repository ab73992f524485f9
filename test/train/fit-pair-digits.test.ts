import { readFileSync } from 'node:fs';
import { onnx } from 'onnx-proto';
import { PIXELS } from '../../src/data/mnist';
import { DIGIT_SCORE_FEATURES, withOutputs } from '../../src/onnx/digit-score';
import { classProbabilities, fitClassHead, PAIR_DIGITS_OUTPUT, PAIR_DIGITS_WIDTH } from '../../src/onnx/pair-digits';
import { openSession } from '../../src/onnx/ort-session';
import { fitPairDigits } from '../../src/train/fit-pair-digits';
import { TEST_MODEL } from '../helpers/model';

/** The named initialisers of a model, as bytes. */
function initializers(model: Uint8Array, prefix: string): Record<string, number[]> {
  const m = onnx.ModelProto.decode(model);
  return Object.fromEntries((m.graph!.initializer ?? []).filter((t) => t.name!.startsWith(prefix)).map((t) => [t.name!, Array.from(t.rawData!)]));
}

describe('fitClassHead', () => {
  it('learns classes that a linear rule on the features tells apart, and gives rows of probabilities', () => {
    // Four features, three classes: the class is which of the first three features is largest.
    const n = 600, d = 4, features = new Float32Array(n * d), labels: number[] = [];
    for (let i = 0; i < n; i++) {
      const c = i % 3;
      for (let j = 0; j < d; j++) features[i * d + j] = ((i * 7 + j * 13) % 10) / 20;
      features[i * d + c] = 1;
      labels.push(c);
    }
    const head = fitClassHead(features, labels, d, 3, { hidden: 8, epochs: 30, batchSize: 16, learningRate: 1e-2 });
    const probs = classProbabilities(head, features);
    let right = 0;
    for (let i = 0; i < n; i++) {
      const row = Array.from(probs.subarray(i * 3, i * 3 + 3));
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      if (row.indexOf(Math.max(...row)) === labels[i]) right++;
    }
    expect(right / n).toBeGreaterThan(0.95);
    expect(() => fitClassHead(features, labels.map(() => 3), d, 3)).toThrow(/not one of the 3 classes/);
  });
});

describe('fitPairDigits', () => {
  it('adds a pair reader whose graph output is what the fitted head computes on fc1, and keeps the other heads as they were', async () => {
    const base = readFileSync(TEST_MODEL);
    const small = { composedPairs: 300, mnistDigits: 40, digitUploadsPerCondition: 1, marksPerFamily: 1, pairUploadsPerCondition: 1, lineNumbersPerKind: 2, validationComposed: 50, validationUploadsPerCondition: 0, epochs: 1, concurrency: 2 };
    const { model, report } = await fitPairDigits(TEST_MODEL, small);
    expect(report.fit.composed).toBe(300);
    expect(report.fit.uploads).toBeLessThanOrEqual(12); // one per condition, those the server sees as one part
    expect(report.validation.composed).toBe(50);
    // "No pair": the MNIST digits, one upload per condition and per tuned family, and the line's single digits.
    expect(report.fit.notPairs).toBeGreaterThan(40);
    for (const prefix of ['digit_score', 'pair_score']) expect(initializers(model, prefix)).toEqual(initializers(base, prefix));
    expect(Object.keys(initializers(model, PAIR_DIGITS_OUTPUT)).sort()).toEqual(['pair_digits.b1', 'pair_digits.b2', 'pair_digits.w1', 'pair_digits.w2']);

    // The graph's softmax against the same head computed here on fc1's features.
    const raw = initializers(model, PAIR_DIGITS_OUTPUT);
    const f32 = (name: string) => new Float32Array(Uint8Array.from(raw[name]).buffer);
    const head = { w1: f32('pair_digits.w1'), b1: f32('pair_digits.b1'), w2: f32('pair_digits.w2'), b2: f32('pair_digits.b2') };
    const session = await openSession(withOutputs(model, [[DIGIT_SCORE_FEATURES, 1000]]));
    try {
      const images = new Float32Array(3 * PIXELS).map((_, i) => ((i * 37) % 101) / 100);
      const out = await session.run(images, 3);
      expect(out.pairDigits).toHaveLength(3 * PAIR_DIGITS_WIDTH);
      const expected = classProbabilities(head, out.outputs[DIGIT_SCORE_FEATURES]);
      for (let i = 0; i < expected.length; i++) expect(out.pairDigits![i]).toBeCloseTo(expected[i], 4);
    } finally {
      await session.close();
    }
  }, 180_000);
});
