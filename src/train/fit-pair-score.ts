import { Dataset, PIXELS, subset, toFloat } from '../data/mnist';
import { createRng } from '../data/rng';
import type { Preprocessed } from '../image/preprocess';
import { addScoreHead, FIT_DEFAULTS, fitScoreHead, headLogits, lowerQuantile, PAIR_SCORE_HEAD } from '../onnx/digit-score';
import { READING_PRICES, separateParts } from '../predictor/read-number';
import { renderGlyphUpload, renderUpload, UPLOAD_CONDITIONS, uploadSeed } from '../uploads/conditions';
import { encodeUpload, stack } from '../uploads/evaluate-uploads';
import { fc1Features, openFit } from '../uploads/fit-digit-score';
import { renderNonDigitUpload, TUNED_FAMILIES } from '../uploads/non-digits';
import { writeNumber } from '../uploads/numbers';
import { lineCandidates } from './line-candidates';
import { pickFromUploads } from './upload-crops';

/**
 * Fitting the pair-score head: one digit against two digits in one box, on fc1's features. The
 * reading of a number cuts a lone mark (one part) only when the model says it may be two digits, and
 * prices a candidate character the head takes for two; the digit score says so for few such marks,
 * because a pair is read confidently as one digit and looks like one to a head fitted against letters.
 * What the head learns from is fixed here:
 * - not two digits: MNIST training images (not the validation split), the page's crop of realistic
 *   uploads of training digits, and of the tuned families' non-digit marks (letters, symbols,
 *   scribbles), seed `fitSeed`. A wide letter or scribble looks more like a pair than like one digit;
 *   without the marks the head calls most of them pairs, and a cut mark reads as digits. And the line
 *   candidates that read numbers of training digits digit by digit (`lineCandidates`): a wide digit
 *   cut out of a line looks unlike a page's crop;
 * - two digits: two training digits written touching (strokes overlapping by 0.3–1.2 MNIST pixels,
 *   the numbers set's recipe) and uploaded under every condition, seed `fitSeed`, kept when the server
 *   sees one part: the page's crop of the pair is then what the lone-mark rule weighs. And the line
 *   candidates that join two neighbours of such a chain, as the reading weighs them;
 * - the line: 0.5 where `lineShare` of the MNIST validation digits score above it.
 * Seed `validationSeed` uploads (digits, pairs and marks) are reported with the fit; the held-out
 * seed (2) and the held-out non-digit families are never used.
 */
export interface PairScoreFitOptions {
  mnistDigits: number; // MNIST training images among the single digits
  digitUploadsPerCondition: number; // realistic uploads of one training digit, per condition
  pairUploadsPerCondition: number; // uploads of two touching training digits, per condition
  marksPerFamily: number; // uploads of non-digit marks per tuned family, among the negatives
  lineNumbersPerKind: number; // numbers of training digits (with gaps, touching) whose line candidates are used
  validationUploadsPerCondition: number; // seed `validationSeed` uploads of digits and pairs, reported
  validationMarksPerFamily: number; // seed `validationSeed` marks per tuned family, reported
  lineDigits: number; // MNIST validation digits the line is placed on (the split has 5,000)
  fitSeed: number;
  validationSeed: number;
  lineShare: number; // share of MNIST validation digits the line may call pairs
  concurrency: number;
}

export const PAIR_SCORE_FIT_DEFAULTS: Readonly<PairScoreFitOptions> = Object.freeze({
  mnistDigits: 10_000,
  digitUploadsPerCondition: 60,
  pairUploadsPerCondition: 180,
  marksPerFamily: 200,
  lineNumbersPerKind: 400,
  validationUploadsPerCondition: 40,
  validationMarksPerFamily: 40,
  lineDigits: 5000,
  fitSeed: 100,
  validationSeed: 1,
  lineShare: 0.005,
  concurrency: 4,
});

export interface PairScoreFitReport {
  /** lineDigits and linePairs: of digits and pairs, those cut out of lines of numbers. */
  fit: { digits: number; lineDigits: number; marks: number; pairs: number; linePairs: number };
  /** At the head's line (0.5) and at the reading's gate (READING_PRICES.lonePairScore). */
  validation: {
    gate: number;
    mnistDigits: number; mnistDigitsAtLine: number; mnistDigitsAtGate: number;
    digitUploads: number; digitUploadsAtGate: number;
    marks: number; marksAtGate: number;
    pairs: number; pairsAtLine: number; pairsAtGate: number;
  };
  lineShare: number;
  seconds: number;
}

/**
 * The page's 28×28 crop of `count` uploads, in upload order whatever order they finish in; an upload
 * is left out when nothing stands out, or when `keep` (given the preprocessed picture) says no.
 */
async function pageCrops(count: number, concurrency: number, make: (i: number) => Uint8Array | Promise<Uint8Array>,
  keep: (p: Preprocessed) => boolean = () => true): Promise<Float32Array> {
  return stack(await pickFromUploads(count, concurrency, make, (p) => (!p.info.empty && keep(p) ? [Float32Array.from(p.input)] : [])));
}

const perCondition = (n: number) => UPLOAD_CONDITIONS.flatMap((c) => Array.from({ length: n }, (_, i) => ({ c, i })));

/** The page's crop of `n` realistic uploads per condition of one digit of `pool` (seed `seed`). */
export function oneDigitCrops(data: Dataset, pool: number[], seed: number, n: number, concurrency: number): Promise<Float32Array> {
  const jobs = perCondition(n);
  return pageCrops(jobs.length, concurrency, (k) => {
    const rng = createRng(uploadSeed(seed, `pair-score/digit/${jobs[k].c}`, jobs[k].i));
    return encodeUpload(renderUpload(jobs[k].c, data.images, pool[rng.int(pool.length)], rng));
  });
}

/** The page's crop of `n` uploads per tuned non-digit family (seed `seed`). */
export function markCrops(seed: number, n: number, concurrency: number): Promise<Float32Array> {
  const jobs = TUNED_FAMILIES.flatMap((f) => Array.from({ length: n }, (_, i) => ({ f, i })));
  return pageCrops(jobs.length, concurrency, (k) => encodeUpload(renderNonDigitUpload(jobs[k].f, seed, jobs[k].i).upload));
}

/** Fits the pair-score head on the model at `modelPath`; returns the model bytes with it (the digit-score head kept) and a report. */
export async function fitPairScore(modelPath: string, partial: Partial<PairScoreFitOptions> = {},
  log: (msg: string) => void = () => {}): Promise<{ model: Uint8Array; report: PairScoreFitReport }> {
  const opts = { ...PAIR_SCORE_FIT_DEFAULTS, ...partial };
  const t0 = performance.now();
  const { train, split, base, session } = await openFit(modelPath);
  const digitUploads = (pool: number[], seed: number, n: number) => oneDigitCrops(train, pool, seed, n, opts.concurrency);
  const pairUploads = (pool: number[], seed: number, n: number) => {
    const jobs = perCondition(n);
    return pageCrops(jobs.length, opts.concurrency, (k) => {
      const rng = createRng(uploadSeed(seed, `pair-score/pair/${jobs[k].c}`, jobs[k].i));
      const pair = [pool[rng.int(pool.length)], pool[rng.int(pool.length)]];
      const { glyph } = writeNumber(train.images, train.labels, pair, [rng.uniform(-1.2, -0.3)], rng);
      return encodeUpload(renderGlyphUpload(jobs[k].c, glyph, rng));
    }, (p) => p.line !== undefined && separateParts(p.line) === 1);
  };
  const markUploads = (seed: number, n: number) => markCrops(seed, n, opts.concurrency);
  try {
    log(`one digit: ${opts.mnistDigits} MNIST training images, ${opts.digitUploadsPerCondition} uploads per condition`);
    const mnist = toFloat(subset(train, split.train.slice(0, opts.mnistDigits)).images);
    const digits = await fc1Features(session, new Float32Array([...mnist, ...await digitUploads(split.train, opts.fitSeed, opts.digitUploadsPerCondition)]));
    log(`non-digits: ${opts.marksPerFamily} uploads per tuned family (${TUNED_FAMILIES.join(', ')})`);
    const marks = await fc1Features(session, await markUploads(opts.fitSeed, opts.marksPerFamily));
    log(`line candidates of ${opts.lineNumbersPerKind} numbers with gaps and ${opts.lineNumbersPerKind} touching`);
    const trainOnly = subset(train, split.train);
    const inLines = await lineCandidates(session, trainOnly.images, trainOnly.labels, opts.fitSeed, opts.lineNumbersPerKind, opts.concurrency);
    const lineSingles = await fc1Features(session, inLines.singles);
    log(`two digits: ${opts.pairUploadsPerCondition} uploads of touching pairs per condition`);
    const pairs = await fc1Features(session, new Float32Array([...await pairUploads(split.train, opts.fitSeed, opts.pairUploadsPerCondition), ...inLines.pairs]));

    log('fitting the head');
    const head = fitScoreHead(pairs.fc1, new Float32Array([...digits.fc1, ...lineSingles.fc1, ...marks.fc1]), 1000);
    const valMnist = headLogits(head, (await fc1Features(session, toFloat(subset(train, split.val.slice(0, opts.lineDigits)).images))).fc1);
    // Moving b2 by q puts 0.5 where a share `lineShare` of the validation digits lie above it.
    const shift = lowerQuantile(Array.from(valMnist, (l) => -l), opts.lineShare);
    head.b2 += shift;

    log('validation uploads');
    const scores = async (images: Float32Array) => Array.from(headLogits(head, (await fc1Features(session, images)).fc1), (l) => 1 / (1 + Math.exp(-l)));
    const valDigits = await scores(await digitUploads(split.val, opts.validationSeed, opts.validationUploadsPerCondition));
    const valPairs = await scores(await pairUploads(split.val, opts.validationSeed, opts.validationUploadsPerCondition));
    const valMarks = await scores(await markUploads(opts.validationSeed, opts.validationMarksPerFamily));
    const gate = READING_PRICES.lonePairScore;
    const over = (xs: number[], bar: number) => xs.filter((x) => x >= bar).length;
    const mnistScores = Array.from(valMnist, (l) => 1 / (1 + Math.exp(-(l + shift))));
    const report: PairScoreFitReport = {
      fit: {
        digits: digits.digits.length + lineSingles.digits.length, lineDigits: lineSingles.digits.length, marks: marks.digits.length,
        pairs: pairs.digits.length, linePairs: inLines.pairs.length / PIXELS,
      },
      validation: {
        gate,
        mnistDigits: mnistScores.length, mnistDigitsAtLine: over(mnistScores, 0.5), mnistDigitsAtGate: over(mnistScores, gate),
        digitUploads: valDigits.length, digitUploadsAtGate: over(valDigits, gate),
        marks: valMarks.length, marksAtGate: over(valMarks, gate),
        pairs: valPairs.length, pairsAtLine: over(valPairs, 0.5), pairsAtGate: over(valPairs, gate),
      },
      lineShare: opts.lineShare,
      seconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
    };
    const info = { method: `MLP on fc1 (1000 → ${FIT_DEFAULTS.hidden} ReLU → 1): one digit or a non-digit mark against two touching digits`, line: 0.5, ...report };
    return { model: addScoreHead(base, { ...head, info }, PAIR_SCORE_HEAD), report };
  } finally {
    await session.close();
  }
}
