import type { DigitReading, PairReading, Prediction } from '../inference/postprocess';
import type { PixelBox } from '../image/preprocess';

/**
 * Which candidates make the line's reading: the segmentation the model is surest of.
 *
 * The line's atoms (stroke parts left to right, wide parts cut) must each be read as part of exactly one
 * character, except a stray mark, which may be left out at a price. A reading's score is the sum of its
 * characters' log-probabilities (the model's probability for the digit it reads), so a split has to earn
 * its second factor: a whole digit read at 0.99 beats its two halves read at 0.9 each. Dynamic
 * programming over the candidates finds the best reading exactly.
 */

export interface LineShape {
  atoms: number;
  skippable: boolean[];
  /** Strokes cut by separating at each atom boundary (0: the atoms are separate parts). */
  cutStrokes: number[];
  candidates: { start: number; end: number; box: { x: number; y: number; width: number; height: number } }[];
}

/**
 * What handwriting looks like, as prices in log-probability, fitted on the tuning seed's numbers, single
 * digits and non-digit marks (docs/reading-numbers.md). Passed in so the fit can try others.
 */
export interface ReadingPrices {
  /** Leaving a stray mark out of the reading (log 0.2: a factor of 0.2). */
  skipLog: number;
  /** A digit is at most about as wide as the line is high (two digits run together are wider)... */
  maxAspect: number;
  widePrice: number; // per line height over
  /** ...at least about half the line's height (a 5's loose flag, a dot are lower)... */
  minHeight: number;
  shortPrice: number; // per line height under
  /** ...and neighbouring digits share few columns (the pieces of one broken digit share many). */
  maxOverlap: number;
  overlapPrice: number; // per share of the narrower one's columns over
  /**
   * Cutting one part in two is a guess: by the strokes the cut crosses (0: two parts that do not touch
   * are separated for free; 1: where two digits touch; 2: a joint and one more stroke).
   */
  cutPrice: [number, number, number];
  /**
   * A cut through a part that is itself a candidate also costs `partCutWeight` × −log of that part's
   * pair score (floored at `partCutFloor`): the pair head says whether the part holds two digits run
   * together, so a part it takes for one digit (a 4 whose crossbar sticks out, a 0 with a gap in its
   * ring) is not cut into two confident pieces.
   */
  partCutWeight: number;
  partCutFloor: number;
  /**
   * The digit score counts this many times: the probability says which digit a piece would be, the
   * score whether it is a digit at all, and a fragment or two digits squeezed into one box are read
   * confidently but look less like a digit.
   */
  digitScoreWeight: number;
  /** The price (log) the one-digit reading may beat a number's reading by and the number still stands. */
  oneDigitMargin: number;
  /**
   * A lone mark (one part) is cut only when, read as one digit, either the digit score refuses it and
   * it is at least `loneMinAspect` line heights wide (two digits side by side; a letter is rarely wider
   * than high), or the pair score (the model's head for two digits run together, fitted against
   * letters and symbols too) is at least `lonePairScore` and it is at least `lonePairMinAspect` wide
   * (touching digits overlap, so a pair can be as narrow as it is high); and every piece is read with
   * at least `loneMinProbability` and taken for a digit with at least `loneMinDigitScore`: the model
   * has to vouch for the split, or the mark stays one digit or refused.
   */
  lonePairScore: number;
  loneMinAspect: number;
  lonePairMinAspect: number;
  loneMinProbability: number;
  loneMinDigitScore: number;
  /**
   * A candidate whose pair score is at least `pairLine` pays `pairPrice`: the head, fitted on line
   * candidates too, says it holds two digits, which the model reads confidently as one.
   */
  pairLine: number;
  pairPrice: number;
  /**
   * A one-digit reading of another layout (the whole picture's tight crop, a sheet) that would answer
   * instead of a number read from the line may not when its own pair score is at least this: the
   * model says that box holds two digits, and the number's reading explains them.
   */
  rivalPairScore: number;
  /**
   * A candidate whose pair score is at least `pairReadScore` may also be read whole as two digits by
   * the pair reader (when the model has one): log of the pair's probability + `pairReadWeight` × log
   * pair score − `pairReadPrice`, and the wide price for every line height beyond `pairMaxAspect`
   * (three digits run together also score as "not one digit"). It needs no cut, so slanted digits
   * that share columns can be read.
   */
  pairReadScore: number;
  pairMaxAspect: number;
  pairReadWeight: number;
  pairReadPrice: number;
  /** A lone mark may be read as a pair where it may be cut, or where its own pair score is at least this. */
  lonePairReadScore: number;
  /** A pair reading counts only when the pair reader gives its pair at least this (on a lone mark, `lonePairMinProbability`). */
  pairMinProbability: number;
  lonePairMinProbability: number;
  /**
   * Where the pair reader gives a candidate's pair at least `pairDenyProbability` (and the candidate may
   * be read as a pair), reading it as one digit costs `pairDenyWeight` × −log(1 − pair score): two heads
   * that agree the box holds two digits (a narrow 1 run into its neighbour) outweigh the confident
   * one-digit reading the model gives such a box. A wide single digit the pair score doubts is rarely
   * named a pair that surely.
   */
  pairDenyWeight: number;
  pairDenyProbability: number;
}

export const READING_PRICES: Readonly<ReadingPrices> = Object.freeze({
  skipLog: Math.log(0.2),
  maxAspect: 0.75,
  widePrice: 4,
  minHeight: 0.55,
  shortPrice: 8,
  maxOverlap: 0.25,
  overlapPrice: 6,
  cutPrice: [0, 1, 1.5] as [number, number, number],
  partCutWeight: 1,
  partCutFloor: 0.001,
  digitScoreWeight: 3,
  oneDigitMargin: 1,
  lonePairScore: 0.995,
  loneMinAspect: 1.25,
  lonePairMinAspect: 1,
  loneMinProbability: 0.9,
  loneMinDigitScore: 0.9,
  pairLine: 0.999,
  pairPrice: 4,
  rivalPairScore: 0.995,
  pairReadScore: 0.5,
  pairMaxAspect: 1.2,
  pairReadWeight: 1,
  pairReadPrice: 1,
  lonePairReadScore: 0.9,
  pairMinProbability: 0.5,
  lonePairMinProbability: 0.8,
  pairDenyWeight: 1,
  pairDenyProbability: 0.9,
});

/**
 * What a character counts for in the whole reading's probability when the pair head takes it for two
 * digits (pair score at least PAIR_DOUBT_LINE), whether it is a character of a number or the one digit
 * answered: the model reads such a box confidently as one digit, and such readings were right far less
 * often than their probability said (fitted on the tuning seed's numbers: ECE 0.055 → 0.032 in the
 * replay for a number's characters; docs/reading-numbers.md for the one digit).
 */
export const PAIR_DOUBT = 0.3;
export const PAIR_DOUBT_LINE = 0.9;

/**
 * The map from a line reading's raw probability (readingProbability) to the number's:
 * σ(bias + logitWeight · logit(raw) + perDigit · digits + touching · [the reading cuts through strokes or
 * reads a pair]). The raw product is overconfident where it is high (a touching pair read as one digit at
 * 0.99) and doubts too much where a character was doubted; a longer number's product has more factors
 * below 1; and a reading that had to separate touching digits is wrong far more often than one of
 * digits apart at the same product. Fitted by `make fit-number-calibration` on numbers of MNIST
 * validation digits (docs/reading-numbers.md).
 */
export interface NumberCalibration { bias: number; logitWeight: number; perDigit: number; touching: number }

export const NUMBER_CALIBRATION: Readonly<NumberCalibration> = Object.freeze({ bias: -0.401, logitWeight: 0.663, perDigit: 0.176, touching: -0.332 });

/** The raw probability is kept off 0 and 1 so that its logit is finite. */
const RAW_LIMIT = 1e-6;

/** logit(p), p kept within RAW_LIMIT of 0 and 1. */
export const boundedLogit = (p: number) => {
  const q = Math.min(1 - RAW_LIMIT, Math.max(RAW_LIMIT, p));
  return Math.log(q / (1 - q));
};

/** A number's probability from its reading's raw probability, its length and whether the reading separated touching digits. */
export function calibrateNumber(raw: number, digits: number, touching: boolean, c: NumberCalibration = NUMBER_CALIBRATION): number {
  return 1 / (1 + Math.exp(-(c.bias + c.logitWeight * boundedLogit(raw) + c.perDigit * digits + (touching ? c.touching : 0))));
}

/** The factor PAIR_DOUBT when `pairScore` takes the box for two digits, else 1. */
export const pairDoubt = (pairScore: number | undefined) => ((pairScore ?? 0) >= PAIR_DOUBT_LINE ? PAIR_DOUBT : 1);

/** 1 − pair score is floored here: past 0.999 the pair price (`pairLine`) speaks as well. */
const PAIR_DENY_FLOOR = 0.001;

/** Probabilities are floored here so one unreadable candidate does not make −∞. */
const FLOOR = 1e-6;

/** A candidate's score: its probability, times its digit score (squared) when the model has one. */
export function characterLog(p: Prediction, prices: ReadingPrices = READING_PRICES): number {
  const digitness = p.digitScore === undefined ? 1 : p.digitScore;
  return Math.log(Math.max(FLOOR, p.probability)) + prices.digitScoreWeight * Math.log(Math.max(FLOOR, digitness));
}

type Box = LineShape['candidates'][number]['box'];

/** The shape's price for one candidate on a line `lineH` high. */
function shapeLog(box: Box, lineH: number, prices: ReadingPrices): number {
  return -prices.widePrice * Math.max(0, box.width / lineH - prices.maxAspect) - prices.shortPrice * Math.max(0, prices.minHeight - box.height / lineH);
}

/** The price of two neighbouring characters sharing columns. */
function overlapLog(a: Box, b: Box, prices: ReadingPrices): number {
  const shared = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  return -prices.overlapPrice * Math.max(0, shared / Math.min(a.width, b.width) - prices.maxOverlap);
}

/**
 * The best reading: candidate indices in order, left to right (none when no reading covers the line:
 * every atom a stray mark), and which of them are read as two digits. Dynamic programming over candidates, each taking the best reading that
 * ends just before it (stray atoms in between skipped at their price), so the price of two neighbours
 * overlapping is counted exactly. Without `allowCuts`, no part is cut in two. A candidate with a pair
 * reading (`pairReads`) is read as one digit or as two, whichever scores higher.
 * @example readLine({ atoms: 2, skippable: [false, false], candidates: [...] }, predictions) // { chosen: [0, 1], asPair: [false, false] }
 */
export function readLine(line: LineShape, predictions: Prediction[], allowCuts = true, prices: ReadingPrices = READING_PRICES, pairScores: readonly number[] = [],
  pairReads: readonly (PairReading | undefined)[] = []): Reading {
  const { chosen, asPair } = bestReading(line, predictions, allowCuts, prices, pairScores, pairReads);
  return { chosen, asPair };
}

/** The line's height: its tallest atom. */
const lineHeight = (line: LineShape) => Math.max(1, ...line.candidates.filter((c) => c.end - c.start === 1).map((c) => c.box.height));

/** The line's width, from its leftmost atom's edge to its rightmost's. */
function lineWidth(line: LineShape): number {
  const atoms = line.candidates.filter((c) => c.end - c.start === 1).map((c) => c.box);
  if (atoms.length === 0) return 0;
  return Math.max(...atoms.map((b) => b.x + b.width)) - Math.min(...atoms.map((b) => b.x));
}

/** A reading: the candidates, left to right, and for each whether it is read as two digits (the pair reader). */
export interface Reading { chosen: number[]; asPair: boolean[] }

/** The score of reading candidate `k` whole as two digits, −∞ when it may not be. */
function pairReadLog(k: number, box: Box, lineH: number, prices: ReadingPrices, pairScores: readonly number[], pairReads: readonly (PairReading | undefined)[]): number {
  const pair = pairReads[k], score = pairScores[k] ?? 0;
  if (!pair || score < prices.pairReadScore) return -Infinity;
  return Math.log(Math.max(FLOOR, pair.probability)) + prices.pairReadWeight * Math.log(Math.max(FLOOR, score)) - prices.pairReadPrice
    + shapeLog(box, lineH, { ...prices, maxAspect: prices.pairMaxAspect });
}

/**
 * For each atom boundary, the price of cutting there that the part around it adds (partCutWeight): 0
 * between parts, and where the part is no candidate or its pair score is unknown.
 */
function partCutPrices(line: LineShape, pairScores: readonly number[], prices: ReadingPrices): Float64Array {
  const out = new Float64Array(line.atoms + 1);
  if (prices.partCutWeight === 0) return out;
  for (let s = 0; s < line.atoms;) {
    let e = s + 1;
    while (e < line.atoms && (line.cutStrokes[e] ?? 0) > 0) e++;
    const k = line.candidates.findIndex((c) => c.start === s && c.end === e);
    const score = k >= 0 ? pairScores[k] : undefined;
    if (score !== undefined) for (let b = s + 1; b < e; b++) out[b] = -prices.partCutWeight * Math.log(Math.max(prices.partCutFloor, score));
    s = e;
  }
  return out;
}

/** readLine's reading and its score. */
function bestReading(line: LineShape, predictions: Prediction[], allowCuts: boolean, prices: ReadingPrices, pairScores: readonly number[],
  pairReads: readonly (PairReading | undefined)[] = []): Reading & { score: number } {
  const { atoms: n, candidates } = line;
  const lineH = lineHeight(line);
  // The price of leaving atoms [from, to) out; −∞ when one of them may not be left out.
  const skipRun = (from: number, to: number) => {
    let price = 0;
    for (let i = from; i < to; i++) { if (!line.skippable[i]) return -Infinity; price += prices.skipLog; }
    return price;
  };
  const order = candidates.map((_, k) => k).sort((a, b) => candidates[a].start - candidates[b].start || candidates[a].end - candidates[b].end);
  const best = new Float64Array(candidates.length).fill(-Infinity);
  const back = new Int32Array(candidates.length).fill(-1);
  const partCut = partCutPrices(line, pairScores, prices);
  const cut = (b: number) => {
    const strokes = line.cutStrokes[b] ?? 0;
    return strokes > 0 && !allowCuts ? Infinity : prices.cutPrice[Math.min(prices.cutPrice.length - 1, strokes)] + partCut[b];
  };
  const one = candidates.map((c, k) => characterLog(predictions[k], prices) + shapeLog(c.box, lineH, prices)
    - ((pairScores[k] ?? 0) >= prices.pairLine ? prices.pairPrice : 0));
  const two = candidates.map((c, k) => pairReadLog(k, c.box, lineH, prices, pairScores, pairReads));
  // A box both pair heads take for two digits: its one-digit reading pays for the pair score.
  two.forEach((t, k) => {
    if (t > -Infinity && pairReads[k]!.probability >= prices.pairDenyProbability) one[k] += prices.pairDenyWeight * Math.log(Math.max(PAIR_DENY_FLOOR, 1 - pairScores[k]));
  });
  const own = one.map((o, k) => Math.max(o, two[k]));
  for (const k of order) {
    const c = candidates[k];
    let score = skipRun(0, c.start) - cut(c.start);
    let from = -1;
    for (const j of order) {
      const prev = candidates[j];
      if (prev.end > c.start || best[j] === -Infinity) continue;
      const s = best[j] + skipRun(prev.end, c.start) - cut(c.start) - (prev.end < c.start ? cut(prev.end) : 0) + overlapLog(prev.box, c.box, prices);
      if (s > score) { score = s; from = j; }
    }
    best[k] = score + own[k];
    back[k] = from;
  }
  let last = -1, top = -Infinity; // a reading must score above −∞: without cuts, one may not exist
  candidates.forEach((c, k) => {
    const s = best[k] + skipRun(c.end, n) - cut(c.end);
    if (s > top) { top = s; last = k; }
  });
  const out: number[] = [];
  for (let k = last; k >= 0; k = back[k]) out.push(k);
  const chosen = out.reverse();
  return { chosen, asPair: chosen.map((k) => two[k] > one[k]), score: top };
}

/**
 * A number needs at least two parts that do not touch: a lone mark is one digit or none, and cutting it
 * would read a letter's halves or a broken digit's pieces as digits.
 */
export function separateParts(line: LineShape): number {
  let parts = 1;
  for (let b = 1; b < line.atoms; b++) if (!(line.cutStrokes[b] > 0) && !line.skippable[b] && !line.skippable[b - 1]) parts++;
  return parts;
}

/** Share of the one-digit box's longer side an atom's centre may lie beyond it and still be inside. */
const COVER_MARGIN = 0.1;

/**
 * Does the one-digit reading leave out a part of the line that is not a stray mark? Then it explains
 * less of the picture than the number does and is no competitor for it (a number with wide gaps, whose
 * one-digit reading is one of its digits).
 */
function leavesOut(line: LineShape, box: Box): boolean {
  const m = COVER_MARGIN * Math.max(box.width, box.height);
  return line.candidates.some((c) => {
    if (c.end - c.start !== 1 || line.skippable[c.start]) return false;
    const centre = c.box.x + c.box.width / 2;
    return centre < box.x - m || centre > box.x + box.width + m;
  });
}

/**
 * Reads the line as a number, or answers no candidates when the one-digit reading stands: every reading
 * of the line and the one-digit reading (`single`, findDigit's, when it covers the line) are scored
 * alike, cuts are tried only when the line has two separate parts or a lone mark may be two digits (its
 * pair score, `single.pairScore`, or its digit score say so), and a reading that cuts a part and calls a
 * piece not a digit is read again without cuts (a W is not a ? and a 4). `pairScores` are the
 * candidates' own; `pairReads` their pair readings, tried where cuts are, or on a lone mark whose pair
 * score is at least `lonePairReadScore`.
 */
export function chooseReading(line: LineShape, predictions: Prediction[], single: { prediction: Prediction; box: Box; pairScore?: number },
  prices: ReadingPrices = READING_PRICES, pairScores: readonly number[] = [], pairReads: readonly (PairReading | undefined)[] = []): Reading {
  const none: Reading = { chosen: [], asPair: [] };
  const lone = separateParts(line) < 2;
  const aspect = lineWidth(line) / lineHeight(line);
  const maybeTwo = (single.prediction.isDigit === false && aspect >= prices.loneMinAspect)
    || ((single.pairScore ?? 0) >= prices.lonePairScore && aspect >= prices.lonePairMinAspect);
  const cuts = !lone || maybeTwo;
  const minPair = lone ? prices.lonePairMinProbability : prices.pairMinProbability;
  const pairs = cuts || (single.pairScore ?? 0) >= prices.lonePairReadScore ? pairReads.map((p) => (p && p.probability >= minPair ? p : undefined)) : [];
  let best = bestReading(line, predictions, cuts, prices, pairScores, pairs);
  const vouched = (k: number) => predictions[k].isDigit !== false
    && (!lone || (predictions[k].probability >= prices.loneMinProbability && (predictions[k].digitScore ?? 1) >= prices.loneMinDigitScore));
  if (usesCut(line, best.chosen) && !best.chosen.every((k, i) => best.asPair[i] || vouched(k))) best = bestReading(line, predictions, false, prices, pairScores, pairs);
  const reading = { chosen: best.chosen, asPair: best.asPair };
  if (best.chosen.length + best.asPair.filter(Boolean).length < 2) return none;
  if (leavesOut(line, single.box)) return reading;
  const oneDigit = characterLog(single.prediction, prices) + shapeLog(single.box, Math.max(lineHeight(line), single.box.height), prices);
  return best.score > oneDigit - prices.oneDigitMargin ? reading : none;
}

/**
 * One character of a line's reading: a candidate read as one digit, or as two (`pair`, the pair
 * reader's); `cut` when a cut through strokes separates it from the character before it.
 */
export interface LineCharacter { prediction: Prediction; box: PixelBox; pairScore?: number; pair?: PairReading; cut?: boolean }

/** Whether the reading separated digits that touch: a cut through strokes, or two digits read in one box. */
export const readsTouching = (chars: readonly LineCharacter[]) => chars.some((c) => c.cut || c.pair);

/**
 * A line reading's raw probability, before NUMBER_CALIBRATION: the product over its characters of
 * probability × digit score (× PAIR_DOUBT where the pair head takes the character for two digits), or
 * for a character read as two digits the pair's probability × the pair score. Each character must be
 * the digit read and a digit at all: a pair of digits run together is read confidently as one, and
 * only these scores say it may not be one digit. The reading's rules weigh this, so refitting the
 * calibration changes no answer's digits.
 */
export function readingProbability(chars: readonly LineCharacter[]): number {
  let probability = 1;
  for (const c of chars) probability *= c.pair ? c.pair.probability * (c.pairScore ?? 1) : c.prediction.probability * (c.prediction.digitScore ?? 1) * pairDoubt(c.pairScore);
  return probability;
}

/**
 * The answer for a line read as `chars` (left to right): `number` the digits as a string, `digits` each
 * with its box; the top-level `probability` is the whole reading's (readingProbability, calibrated by
 * NUMBER_CALIBRATION), `digit` and `probabilities` are the leftmost digit's, `digitScore` the lowest of
 * the characters'. A character read as two digits gives two digits, each with the left or right half of
 * its box, what that half reads (the pair's probabilities summed over the other half) and the pair
 * score as its digit score.
 * With `hideNonDigits` (the refusing policy) a character the digit-score head does not take for a digit
 * is not read: `digit: null` and a `?` in `number`.
 */
export function lineAnswer(chars: LineCharacter[], hideNonDigits: boolean): Prediction {
  const digits: DigitReading[] = chars.flatMap(({ prediction: p, box, pair, pairScore }) => {
    if (pair) {
      const score = Number((pairScore ?? 1).toPrecision(6)), half = Math.floor(box.width / 2);
      return [
        { digit: pair.left, probability: pair.leftProbabilities[pair.left], probabilities: pair.leftProbabilities, box: { ...box, width: half }, digitScore: score, isDigit: true },
        { digit: pair.right, probability: pair.rightProbabilities[pair.right], probabilities: pair.rightProbabilities, box: { ...box, x: box.x + half, width: box.width - half }, digitScore: score, isDigit: true },
      ];
    }
    const hidden = hideNonDigits && p.isDigit === false;
    const reading: DigitReading = { digit: hidden ? null : p.digit, probability: p.probability, probabilities: p.probabilities, box };
    if (p.digitScore !== undefined) { reading.digitScore = p.digitScore; reading.isDigit = p.isDigit; }
    return [reading];
  });
  const first = digits.find((d) => d.digit !== null) ?? digits[0];
  const answer: Prediction = {
    digit: first.digit ?? chars[0].prediction.digit,
    probability: Number(calibrateNumber(readingProbability(chars), digits.length, readsTouching(chars)).toPrecision(6)),
    probabilities: first.probabilities,
    number: digits.map((d) => (d.digit === null ? '?' : String(d.digit))).join(''),
    digits,
  };
  const scores = digits.map((d) => d.digitScore).filter((s): s is number => s !== undefined);
  if (scores.length === digits.length) {
    answer.digitScore = Math.min(...scores);
    answer.isDigit = digits.every((d) => d.isDigit);
  }
  return answer;
}

/** Does the reading separate two atoms of one part (use a cut)? */
export function usesCut(line: LineShape, chosen: number[]): boolean {
  return chosen.some((k, i) => (i > 0 && line.cutStrokes[line.candidates[k].start] > 0) || (i + 1 < chosen.length && line.cutStrokes[line.candidates[k].end] > 0));
}
