import { readFileSync } from 'node:fs';
import { onnx } from 'onnx-proto';
import { DIGIT_SCORE_HEAD, PAIR_SCORE_HEAD, scoreHeadInfo } from '../../src/onnx/digit-score';
import { fitPairScore } from '../../src/train/fit-pair-score';
import { labelChain } from '../../src/train/line-candidates';
import { TEST_MODEL } from '../helpers/model';


/** The named initialisers of a model, as bytes. */
function initializers(model: Uint8Array, prefix: string): Record<string, number[]> {
  const m = onnx.ModelProto.decode(model);
  return Object.fromEntries((m.graph!.initializer ?? []).filter((t) => t.name!.startsWith(prefix)).map((t) => [t.name!, Array.from(t.rawData!)]));
}

describe('fitPairScore', () => {
  it('adds a pair head fitted on digits, marks and touching pairs the server sees as one part, and keeps the digit-score head as it was', async () => {
    const base = readFileSync(TEST_MODEL);
    const small = { mnistDigits: 60, digitUploadsPerCondition: 1, pairUploadsPerCondition: 1, marksPerFamily: 1, lineNumbersPerKind: 3, validationUploadsPerCondition: 0, validationMarksPerFamily: 0, lineDigits: 400, concurrency: 2 };
    const { model, report } = await fitPairScore(TEST_MODEL, small);
    expect(report.fit.digits).toBeGreaterThan(60);
    expect(report.fit.digits).toBeLessThanOrEqual(60 + 12 + report.fit.lineDigits);
    expect(report.fit.marks).toBeGreaterThan(0); // one per tuned family, less those where nothing stands out
    expect(report.fit.marks).toBeLessThanOrEqual(7);
    expect(report.fit.pairs).toBeGreaterThan(0);
    // Line candidates of 3 + 3 numbers of 2–5 digits: the chains read right give single digits, and
    // neighbours' joined candidates pairs.
    expect(report.fit.lineDigits).toBeGreaterThan(0);
    expect(report.fit.lineDigits).toBeLessThanOrEqual(30);
    expect(report.fit.linePairs).toBeLessThanOrEqual(report.fit.pairs);
    expect(report.fit.pairs - report.fit.linePairs).toBeLessThanOrEqual(12);
    expect(report.validation.mnistDigits).toBe(400);
    // The line is placed on the MNIST validation digits: about lineShare of them score above 0.5.
    expect(report.validation.mnistDigitsAtLine).toBeLessThanOrEqual(Math.ceil(report.lineShare * 400) + 1);
    expect(scoreHeadInfo(model, PAIR_SCORE_HEAD)).toMatchObject({ line: 0.5, fit: report.fit });
    expect(scoreHeadInfo(model, DIGIT_SCORE_HEAD)).toEqual(scoreHeadInfo(base, DIGIT_SCORE_HEAD));
    expect(initializers(model, 'digit_score')).toEqual(initializers(base, 'digit_score'));
    expect(Object.keys(initializers(model, 'pair_score')).sort()).toEqual(['pair_score.b1', 'pair_score.b2', 'pair_score.w1', 'pair_score.w2']);
  }, 180_000);
});

describe('labelChain', () => {
  // Three atoms; candidates: each atom, atoms 0–1 joined, and atoms 1–2 joined.
  const box = { x: 0, y: 0, width: 1, height: 1 };
  const line = {
    atoms: 3, skippable: [false, true, false],
    candidates: [[0, 1], [1, 2], [2, 3], [0, 2], [1, 3]].map(([start, end]) => ({ start, end, box })),
  };
  it('finds the likeliest chain of candidates that reads the label digit by digit, a skippable atom left out', () => {
    // Read: 4, 1, 7, 4 (atoms 0–1), 9 (atoms 1–2).
    expect(labelChain(line, [4, 1, 7, 4, 9], [0.9, 0.5, 0.9, 0.95, 0.2], '47')).toEqual([3, 2]);
    expect(labelChain(line, [4, 1, 7, 4, 9], [0.9, 0.5, 0.9, 0.5, 0.2], '47')).toEqual([0, 2]);
    expect(labelChain(line, [4, 1, 7, 4, 9], [0.9, 0.5, 0.9, 0.5, 0.2], '417')).toEqual([0, 1, 2]);
    expect(labelChain(line, [4, 1, 7, 4, 9], [0.9, 0.5, 0.9, 0.5, 0.2], '49')).toEqual([0, 4]);
    expect(labelChain(line, [4, 1, 7, 4, 9], [0.9, 0.5, 0.9, 0.5, 0.2], '71')).toBeUndefined();
  });
});
