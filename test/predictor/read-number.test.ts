import { calibrateNumber, chooseReading, lineAnswer, LineShape, NUMBER_CALIBRATION, PAIR_DOUBT, PAIR_DOUBT_LINE, READING_PRICES, readLine, separateParts, usesCut }
  from '../../src/predictor/read-number';
import type { PairReading, Prediction } from '../../src/inference/postprocess';

/** A prediction reading `digit` at probability `p` (the rest spread evenly), with digit score `s`. */
function pred(digit: number, p: number, s?: number): Prediction {
  const probabilities = Array.from({ length: 10 }, (_, d) => (d === digit ? p : (1 - p) / 9));
  return { digit, probability: p, probabilities, ...(s === undefined ? {} : { digitScore: s, isDigit: s >= 0.5 }) };
}

const box = (x: number, width: number, height = 100, y = 0) => ({ x, y, width, height });

/** Two atoms side by side, 60 wide and 100 high, 20 apart: each alone, or both as one candidate. */
function twoAtoms(cutStrokes = [0, 0, 0]): LineShape {
  return {
    atoms: 2, skippable: [false, false], cutStrokes,
    candidates: [{ start: 0, end: 1, box: box(0, 60) }, { start: 1, end: 2, box: box(80, 60) }, { start: 0, end: 2, box: box(0, 140) }],
  };
}

/** The pair reader's reading of a box as the digits `left` and `right`, the pair at probability `p`. */
function pairRead(left: number, right: number, p: number): PairReading {
  const half = (d: number) => Array.from({ length: 10 }, (_, k) => (k === d ? p : (1 - p) / 9));
  return { left, right, probability: p, leftProbabilities: half(left), rightProbabilities: half(right) };
}

describe('readLine', () => {
  it('reads two confident digits as two, not as one squeezed reading', () => {
    expect(readLine(twoAtoms(), [pred(4, 0.99), pred(7, 0.98), pred(8, 0.9)]).chosen).toEqual([0, 1]);
  });

  it('reads one digit when its pieces are unsure and the whole is sure, unless the whole is too wide for one', () => {
    const narrow: LineShape = { ...twoAtoms(), candidates: [{ start: 0, end: 1, box: box(0, 40) }, { start: 1, end: 2, box: box(45, 40) }, { start: 0, end: 2, box: box(0, 85) }] };
    expect(readLine(narrow, [pred(1, 0.5), pred(7, 0.55), pred(4, 0.999)]).chosen).toEqual([2]);
    expect(readLine(twoAtoms(), [pred(1, 0.5), pred(7, 0.55), pred(4, 0.999)]).chosen).toEqual([0, 1]); // 140 wide, 100 high
  });

  it('counts the digit score: a fragment that does not look like a digit is not read as one', () => {
    expect(readLine(twoAtoms(), [pred(1, 0.99, 0.2), pred(7, 0.99, 0.99), pred(4, 0.97, 0.99)]).chosen).toEqual([2]);
  });

  it('makes a candidate the pair head takes for two digits pay for it', () => {
    // The squeezed reading of both atoms is the surer one...
    const preds = [pred(4, 0.7), pred(7, 0.7), pred(4, 0.999)];
    const narrow: LineShape = { ...twoAtoms(), candidates: [{ start: 0, end: 1, box: box(0, 40) }, { start: 1, end: 2, box: box(45, 40) }, { start: 0, end: 2, box: box(0, 85) }] };
    expect(readLine(narrow, preds).chosen).toEqual([2]);
    // ...until the pair score says it holds two digits; a score under the line costs nothing.
    expect(readLine(narrow, preds, true, READING_PRICES, [0.01, 0.02, 0.9995]).chosen).toEqual([0, 1]);
    expect(readLine(narrow, preds, true, READING_PRICES, [0.01, 0.02, 0.99]).chosen).toEqual([2]);
  });

  it('makes a cut through a part pay for the part\'s pair score: a part the head takes for one digit stays whole', () => {
    // Atoms 0 and 1 touch (a cut crosses a stroke); atom 2 is a digit apart. The pieces read surer than the whole.
    const line: LineShape = {
      atoms: 3, skippable: [false, false, false], cutStrokes: [0, 1, 0, 0],
      candidates: [{ start: 0, end: 1, box: box(0, 35) }, { start: 1, end: 2, box: box(35, 35) }, { start: 0, end: 2, box: box(0, 70) }, { start: 2, end: 3, box: box(100, 60) }],
    };
    const preds = [pred(6, 0.99), pred(1, 0.99), pred(4, 0.3), pred(7, 0.99)];
    const prices = { ...READING_PRICES, partCutWeight: 1 };
    expect(readLine(line, preds, true, { ...prices, partCutWeight: 0 }, [0.01, 0.01, 0.01, 0.01]).chosen).toEqual([0, 1, 3]);
    expect(readLine(line, preds, true, prices, [0.01, 0.01, 0.01, 0.01]).chosen).toEqual([2, 3]);
    // Where the head says two digits, or has no say, the cut costs what it did.
    expect(readLine(line, preds, true, prices, [0.01, 0.01, 0.99, 0.01]).chosen).toEqual([0, 1, 3]);
    expect(readLine(line, preds, true, prices).chosen).toEqual([0, 1, 3]);
  });

  it('leaves out a stray mark, but never a part of the line that may not be skipped', () => {
    const line: LineShape = {
      atoms: 3, skippable: [false, true, false], cutStrokes: [0, 0, 0, 0],
      candidates: [{ start: 0, end: 1, box: box(0, 60) }, { start: 1, end: 2, box: box(70, 10, 10, 90) }, { start: 2, end: 3, box: box(90, 60) }],
    };
    expect(readLine(line, [pred(2, 0.99), pred(1, 0.3), pred(5, 0.99)]).chosen).toEqual([0, 2]);
    expect(readLine({ ...line, skippable: [false, false, false] }, [pred(2, 0.99), pred(1, 0.3), pred(5, 0.99)]).chosen).toEqual([0, 1, 2]);
  });

  it('prices pieces that share most of their columns (a broken digit) against reading them apart', () => {
    const line: LineShape = {
      atoms: 2, skippable: [false, false], cutStrokes: [0, 0, 0],
      candidates: [{ start: 0, end: 1, box: box(0, 60) }, { start: 1, end: 2, box: box(10, 60) }, { start: 0, end: 2, box: box(0, 70) }],
    };
    expect(readLine(line, [pred(1, 0.99), pred(7, 0.99), pred(4, 0.9)]).chosen).toEqual([2]);
  });

  it('prices a cut, and without cuts never separates the atoms of one part', () => {
    // Narrow atoms, so that the whole is no wider than one digit and only the cut's price counts.
    const narrow = (cutStrokes: number[]): LineShape => ({
      atoms: 2, skippable: [false, false], cutStrokes,
      candidates: [{ start: 0, end: 1, box: box(0, 35) }, { start: 1, end: 2, box: box(35, 35) }, { start: 0, end: 2, box: box(0, 70) }],
    });
    const preds = [pred(4, 0.9), pred(7, 0.9), pred(8, 0.5)];
    expect(readLine(narrow([0, 0, 0]), preds).chosen).toEqual([0, 1]);
    expect(readLine(narrow([0, 2, 0]), preds).chosen).toEqual([2]); // 0.81 · e^−1.5 < 0.5
    expect(readLine(narrow([0, 1, 0]), [pred(4, 0.99), pred(7, 0.99), pred(8, 0.3)]).chosen).toEqual([0, 1]); // 0.98 · e^−1 > 0.3
    expect(readLine(narrow([0, 1, 0]), [pred(4, 0.99), pred(7, 0.99), pred(8, 0.3)], false).chosen).toEqual([2]);
    expect(usesCut(twoAtoms([0, 1, 0]), [0, 1])).toBe(true);
    expect(usesCut(twoAtoms([0, 1, 0]), [2])).toBe(false);
    expect(usesCut(twoAtoms(), [0, 1])).toBe(false);
  });
});

describe('reading a candidate as two digits', () => {
  // One part 140 wide and 100 high, cut once: the pieces read poorly, the whole reads as an 8.
  const lone = twoAtoms([0, 1, 0]);
  const preds = [pred(1, 0.5), pred(7, 0.5), pred(8, 0.95, 0.9)];
  const reads = [undefined, undefined, pairRead(4, 7, 0.9)];

  it('reads the box whole as two digits when the pair reader and the pair score make that the likeliest reading', () => {
    // 0.9 × 0.99 · e^−1, halves 70 wide; against the 8 (0.95 × 0.9³, 1.4 line heights wide) and the cut pieces.
    expect(readLine(lone, preds, true, READING_PRICES, [0, 0, 0.99], reads)).toEqual({ chosen: [2], asPair: [true] });
    expect(readLine(lone, preds, true, READING_PRICES, [0, 0, 0.99])).toEqual({ chosen: [0, 1], asPair: [false, false] });
    // Not where the pair score says it is one digit, nor where the pair reader is unsure.
    expect(readLine(lone, preds, true, READING_PRICES, [0, 0, READING_PRICES.pairReadScore / 2], reads).asPair).not.toContain(true);
    expect(readLine(lone, preds, true, READING_PRICES, [0, 0, 0.99], [undefined, undefined, pairRead(4, 7, 0.01)]).asPair).not.toContain(true);
  });

  it('reads a box as a pair when the pair reader is sure of it and the pair score doubts one digit, though the model reads one digit surely', () => {
    // Atom 0 is a narrow 1 run into an 8 (read "8" at 0.99); atom 1 a 3 apart. Read as one digit the box
    // scores −0.04 against −1.10 as "18"; the pair score 0.95 costs the one digit −log 0.05 ≈ 3.
    const preds = [pred(8, 0.99, 0.99), pred(3, 0.99, 0.99), pred(8, 0.3, 0.5)];
    const scores = [0.95, 0.01, 0.5];
    const sure = [pairRead(1, 8, 0.95), undefined, undefined];
    expect(readLine(twoAtoms(), preds, true, READING_PRICES, scores, sure)).toEqual({ chosen: [0, 1], asPair: [true, false] });
    // Not where the pair reader is less sure than pairDenyProbability, and not without the price.
    const unsure = [pairRead(1, 8, READING_PRICES.pairDenyProbability - 0.05), undefined, undefined];
    expect(readLine(twoAtoms(), preds, true, READING_PRICES, scores, unsure)).toEqual({ chosen: [0, 1], asPair: [false, false] });
    expect(readLine(twoAtoms(), preds, true, { ...READING_PRICES, pairDenyWeight: 0 }, scores, sure)).toEqual({ chosen: [0, 1], asPair: [false, false] });
  });

  it('reads a lone mark as a pair only when its own pair score says it may be two digits', () => {
    const single = (pairScore: number) => ({ prediction: pred(8, 0.95, 0.9), box: box(0, 140), pairScore });
    const reading = chooseReading(lone, preds, single(READING_PRICES.lonePairReadScore), READING_PRICES, [0, 0, 0.99], reads);
    expect(reading).toEqual({ chosen: [2], asPair: [true] });
    expect(chooseReading(lone, preds, single(0.5), READING_PRICES, [0, 0, 0.99], reads)).toEqual({ chosen: [], asPair: [] });
  });

  it('answers a pair as two digits, each with half the box, and the pair in the whole probability', () => {
    const a = lineAnswer([
      { prediction: pred(8, 0.95, 0.9), box: box(0, 140), pairScore: 0.99, pair: pairRead(4, 7, 0.9) },
      { prediction: pred(2, 0.9, 0.95), box: box(160, 60) },
    ], true);
    expect(a.number).toBe('472');
    expect(a.digit).toBe(4);
    expect(a.digits!.map((d) => [d.box.x, d.box.width])).toEqual([[0, 70], [70, 70], [160, 60]]);
    expect(a.digits![1]).toMatchObject({ digit: 7, probability: 0.9, digitScore: 0.99, isDigit: true });
    expect(a.probability).toBeCloseTo(calibrateNumber(0.9 * 0.99 * 0.9 * 0.95, 3, true), 5);
    expect(a.digitScore).toBe(0.95);
  });
});

describe('chooseReading', () => {
  const whole = (p: number, s: number, width = 140) => ({ prediction: pred(8, p, s), box: box(0, width) });

  it('reads two separate parts as a number unless the one-digit reading is far likelier', () => {
    const preds = [pred(4, 0.99, 0.99), pred(7, 0.98, 0.99), pred(8, 0.9, 0.5)];
    expect(chooseReading(twoAtoms(), preds, whole(0.9, 0.2)).chosen).toEqual([0, 1]);
    // The whole as one digit, sure and digit-like: one digit...
    expect(chooseReading(twoAtoms(), [pred(4, 0.6, 0.6), pred(7, 0.6, 0.6), pred(8, 0.5, 0.5)], whole(0.999, 0.999, 140)).chosen).toEqual([]);
    // ...but not a one-digit reading of the first part alone, which leaves the second one out.
    expect(chooseReading(twoAtoms(), [pred(4, 0.6, 0.6), pred(7, 0.6, 0.6), pred(8, 0.5, 0.5)], whole(0.999, 0.999, 60)).chosen).toEqual([0, 1]);
  });

  it('cuts a lone part only when it is refused as one digit, as wide as two, and the model vouches for every piece', () => {
    const lone = twoAtoms([0, 1, 0]); // 140 wide, 100 high
    expect(separateParts(lone)).toBe(1);
    expect(separateParts(twoAtoms())).toBe(2);
    const sure = [pred(4, 0.99, 0.99), pred(7, 0.99, 0.99), pred(8, 0.3, 0.3)];
    expect(chooseReading(lone, sure, whole(0.3, 0.3)).chosen).toEqual([0, 1]);
    // Taken for a digit as one mark: it stays one digit, however sure the pieces are.
    expect(chooseReading(lone, sure, whole(0.9, 0.9)).chosen).toEqual([]);
    // A piece the model is unsure of, or does not quite take for a digit: the mark stays refused.
    expect(chooseReading(lone, [pred(4, 0.8, 0.99), pred(7, 0.99, 0.99), pred(8, 0.3, 0.3)], whole(0.3, 0.3)).chosen).toEqual([]);
    expect(chooseReading(lone, [pred(4, 0.99, 0.8), pred(7, 0.99, 0.99), pred(8, 0.3, 0.3)], whole(0.3, 0.3)).chosen).toEqual([]);
    // No wider than one letter (110 wide, 100 high): not cut.
    const narrow: LineShape = { ...lone, candidates: [{ start: 0, end: 1, box: box(0, 55) }, { start: 1, end: 2, box: box(55, 55) }, { start: 0, end: 2, box: box(0, 110) }] };
    expect(chooseReading(narrow, sure, { ...whole(0.3, 0.3), box: box(0, 110) }).chosen).toEqual([]);
  });

  it('cuts a lone part taken for a digit when the pair score says it is two digits run together, down to as wide as high', () => {
    const lone = twoAtoms([0, 1, 0]);
    const sure = [pred(4, 0.99, 0.99), pred(7, 0.99, 0.99), pred(8, 0.3, 0.3)];
    expect(chooseReading(lone, sure, { ...whole(0.9, 0.9), pairScore: 0.995 }).chosen).toEqual([0, 1]);
    expect(chooseReading(lone, sure, { ...whole(0.9, 0.9), pairScore: 0.99 }).chosen).toEqual([]);
    // The pieces must still be vouched for.
    expect(chooseReading(lone, [pred(4, 0.8, 0.99), pred(7, 0.99, 0.99), pred(8, 0.3, 0.3)], { ...whole(0.9, 0.9), pairScore: 0.995 }).chosen).toEqual([]);
    // Touching digits overlap: a mark 1.1 times as wide as high is cut on the pair score's word (not
    // on the digit score's, above), one narrower than it is high is not.
    const ofWidth = (w: number): LineShape => ({ ...lone, candidates: [{ start: 0, end: 1, box: box(0, w / 2) }, { start: 1, end: 2, box: box(w / 2, w / 2) }, { start: 0, end: 2, box: box(0, w) }] });
    expect(chooseReading(ofWidth(110), sure, { ...whole(0.9, 0.9), box: box(0, 110), pairScore: 0.995 }).chosen).toEqual([0, 1]);
    expect(chooseReading(ofWidth(90), sure, { ...whole(0.9, 0.9), box: box(0, 90), pairScore: 0.995 }).chosen).toEqual([]);
  });

  it('cuts a part beside another one, and reads again without the cut when a piece is not a digit', () => {
    // Atoms 0 and 1 are one part cut in two, atom 2 a part of its own.
    const line: LineShape = {
      atoms: 3, skippable: [false, false, false], cutStrokes: [0, 1, 0, 0],
      candidates: [
        { start: 0, end: 1, box: box(0, 50) }, { start: 1, end: 2, box: box(50, 50) }, { start: 0, end: 2, box: box(0, 100) },
        { start: 2, end: 3, box: box(130, 50) }, { start: 1, end: 3, box: box(50, 130) },
      ],
    };
    expect(separateParts(line)).toBe(2);
    const sure = [pred(4, 0.99, 0.99), pred(7, 0.99, 0.99), pred(8, 0.4, 0.4), pred(1, 0.99, 0.99), pred(2, 0.1, 0.1)];
    expect(chooseReading(line, sure, whole(0.5, 0.1, 180)).chosen).toEqual([0, 1, 3]);
    const notADigit = [pred(4, 0.99, 0.99), pred(7, 0.99, 0.3), pred(8, 0.4, 0.6), pred(1, 0.99, 0.99), pred(2, 0.1, 0.1)];
    expect(chooseReading(line, notADigit, whole(0.5, 0.1, 180)).chosen).toEqual([2, 3]);
  });
});

describe('lineAnswer', () => {
  const chars = [
    { prediction: pred(2, 0.9, 0.95), box: box(0, 60) },
    { prediction: pred(0, 0.8, 0.3), box: box(80, 60) },
    { prediction: pred(7, 0.99, 0.9), box: box(160, 60) },
  ];

  it('gives the number, the leftmost digit, and the product of probability × digit score, calibrated, as the probability', () => {
    const a = lineAnswer(chars, false);
    expect(a.number).toBe('207');
    expect(a.digit).toBe(2);
    expect(a.probabilities).toEqual(chars[0].prediction.probabilities);
    expect(a.probability).toBeCloseTo(calibrateNumber(0.9 * 0.95 * 0.8 * 0.3 * 0.99 * 0.9, 3, false), 5);
    expect(a.digitScore).toBe(0.3);
    expect(a.isDigit).toBe(false);
    expect(a.digits!.map((d) => d.box.x)).toEqual([0, 80, 160]);
  });

  it('doubts a character the pair head takes for two digits in the whole probability, not in its own', () => {
    const doubted = [chars[0], { ...chars[2], pairScore: PAIR_DOUBT_LINE }];
    const a = lineAnswer(doubted, false);
    expect(a.probability).toBeCloseTo(calibrateNumber(0.9 * 0.95 * 0.99 * 0.9 * PAIR_DOUBT, 2, false), 5);
    expect(a.digits![1].probability).toBe(0.99);
    expect(lineAnswer([chars[0], { ...chars[2], pairScore: 0.5 }], false).probability).toBeCloseTo(calibrateNumber(0.9 * 0.95 * 0.99 * 0.9, 2, false), 5);
  });

  it('when refusing, a character that is not a digit is a ? with digit null', () => {
    const a = lineAnswer(chars, true);
    expect(a.number).toBe('2?7');
    expect(a.digits![1]).toMatchObject({ digit: null, isDigit: false, digitScore: 0.3 });
    const first = lineAnswer([chars[1], chars[2]], true);
    expect(first.digit).toBe(7); // the leftmost digit that is one
  });

  it('has no digit score without a model that gives one', () => {
    const a = lineAnswer([{ prediction: pred(3, 0.9), box: box(0, 50) }, { prediction: pred(4, 0.9), box: box(60, 50) }], true);
    expect(a.number).toBe('34');
    expect(a.probability).toBeCloseTo(calibrateNumber(0.81, 2, false), 5);
    expect(a.digitScore).toBeUndefined();
    expect(a.isDigit).toBeUndefined();
  });
});

describe('calibrateNumber', () => {
  it('is the identity with no bias, a logit weight of 1 and nothing per digit or for touching', () => {
    for (const p of [0.01, 0.3, 0.9, 0.999]) expect(calibrateNumber(p, 4, true, { bias: 0, logitWeight: 1, perDigit: 0, touching: 0 })).toBeCloseTo(p, 9);
  });

  it('follows σ(bias + logitWeight · logit(raw) + perDigit · digits + touching), in order of the raw probability', () => {
    const c = { bias: -0.5, logitWeight: 0.6, perDigit: 0.2, touching: -0.8 };
    expect(calibrateNumber(0.9, 3, false, c)).toBeCloseTo(1 / (1 + Math.exp(-(-0.5 + 0.6 * Math.log(9) + 0.6))), 9);
    expect(calibrateNumber(0.9, 3, true, c)).toBeCloseTo(1 / (1 + Math.exp(-(-0.5 + 0.6 * Math.log(9) + 0.6 - 0.8))), 9);
    let last = 0;
    for (const raw of [1e-4, 0.05, 0.3, 0.6, 0.9, 0.99, 0.9999]) {
      const p = calibrateNumber(raw, 3, false);
      expect(p).toBeGreaterThan(last);
      last = p;
    }
    expect(NUMBER_CALIBRATION.logitWeight).toBeGreaterThan(0);
  });

  it('counts a reading as touching when a cut separates two characters or a character is read as a pair', () => {
    const two = [{ prediction: pred(3, 0.9, 0.9), box: box(0, 50) }, { prediction: pred(4, 0.9, 0.9), box: box(60, 50) }];
    const raw = 0.9 * 0.9 * 0.9 * 0.9;
    expect(lineAnswer(two, false).probability).toBeCloseTo(calibrateNumber(raw, 2, false), 5);
    expect(lineAnswer([two[0], { ...two[1], cut: true }], false).probability).toBeCloseTo(calibrateNumber(raw, 2, true), 5);
  });
});
