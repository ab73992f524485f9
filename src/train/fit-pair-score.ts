import { NUM_CLASSES, PIXELS, subset, toFloat } from '../data/mnist';
import { createRng } from '../data/rng';
import type { LineInputs, Preprocessed } from '../image/preprocess';
import { argmaxRows } from '../metrics/classification';
import { addScoreHead, FIT_DEFAULTS, fitScoreHead, headLogits, lowerQuantile, PAIR_SCORE_HEAD } from '../onnx/digit-score';
import type { OnnxSession } from '../onnx/ort-session';
import { READING_PRICES, separateParts } from '../predictor/read-number';
import { renderGlyphUpload, renderUpload, UPLOAD_CONDITIONS, uploadSeed } from '../uploads/conditions';
import { encodeUpload } from '../uploads/evaluate-uploads';
import { fc1Features, openFit, stack } from '../uploads/fit-digit-score';
import { renderNonDigitUpload, TUNED_FAMILIES } from '../uploads/non-digits';
import { renderNumberUpload, writeNumber } from '../uploads/numbers';
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

/**
 * The candidates of a line that read its number digit by digit (each the digit of the label, by the
 * model's most probable answer), the likeliest such chain; undefined when none does. A skippable atom
 * may be left out.
 */
export function labelChain(line: Pick<LineInputs, 'atoms' | 'skippable' | 'candidates'>, digits: ArrayLike<number>, probabilities: ArrayLike<number>, label: string): number[] | undefined {
  const n = line.atoms, m = label.length;
  // best[a][p]: the likeliest reading of label[p..] from atom a on, and its first step.
  const best = Array.from({ length: n + 1 }, () => new Float64Array(m + 1).fill(-Infinity));
  const next = Array.from({ length: n + 1 }, () => new Int32Array(m + 1).fill(-2));
  best[n][m] = 0;
  for (let a = n - 1; a >= 0; a--) {
    for (let p = m; p >= 0; p--) {
      if (line.skippable[a] && best[a + 1][p] > best[a][p]) { best[a][p] = best[a + 1][p]; next[a][p] = -1; }
      if (p === m) continue;
      line.candidates.forEach((c, k) => {
        if (c.start !== a || digits[k] !== Number(label[p])) return;
        const s = Math.log(Math.max(1e-9, probabilities[k])) + best[c.end][p + 1];
        if (s > best[a][p]) { best[a][p] = s; next[a][p] = k; }
      });
    }
  }
  if (best[0][0] === -Infinity) return undefined;
  const chain: number[] = [];
  for (let a = 0, p = 0; a < n || p < m;) {
    const k = next[a][p];
    if (k === -1) { a++; continue; }
    chain.push(k);
    a = line.candidates[k].end;
    p++;
  }
  return chain;
}

/**
 * Line candidates of numbers written with training digits (seed `seed`, `perKind` with gaps and as
 * many touching): where the model reads the number digit by digit, each candidate of that chain is one
 * digit, and the candidate that joins two neighbours of the chain (when there is one) two digits in one
 * box, as the reading weighs them. Page crops alone would miss how a wide single digit looks there.
 */
async function lineCandidates(session: OnnxSession, images: Uint8Array, labels: Uint8Array, seed: number, perKind: number,
  concurrency: number): Promise<{ singles: Float32Array; pairs: Float32Array }> {
  const jobs = (['gaps', 'touching'] as const).flatMap((kind) => Array.from({ length: perKind }, (_, i) => ({ kind, i })));
  const numberLabels: string[] = [];
  const lines = await pickFromUploads(jobs.length, concurrency, (k) => {
    const { label, upload } = renderNumberUpload(images, labels, jobs[k].kind, seed, jobs[k].i);
    numberLabels[k] = label;
    return encodeUpload(upload);
  }, (p, k) => (p.line ? [{ label: numberLabels[k], line: { ...p.line, inputs: Float32Array.from(p.line.inputs) } }] : []));
  const singles: Float32Array[] = [], pairs: Float32Array[] = [];
  for (const { label, line } of lines) {
    const out = await session.run(line.inputs, line.candidates.length);
    const digits = argmaxRows(out.probabilities);
    const chain = labelChain(line, digits, Array.from(digits, (d, c) => out.probabilities[c * NUM_CLASSES + d]), label);
    if (!chain) continue;
    const input = (c: number) => line.inputs.subarray(c * PIXELS, (c + 1) * PIXELS);
    for (const c of chain) singles.push(input(c));
    for (let i = 0; i + 1 < chain.length; i++) {
      const a = line.candidates[chain[i]], b = line.candidates[chain[i + 1]];
      if (a.end !== b.start) continue;
      const joined = line.candidates.findIndex((c) => c.start === a.start && c.end === b.end);
      if (joined >= 0) pairs.push(input(joined));
    }
  }
  return { singles: stack(singles), pairs: stack(pairs) };
}

/** Fits the pair-score head on the model at `modelPath`; returns the model bytes with it (the digit-score head kept) and a report. */
export async function fitPairScore(modelPath: string, partial: Partial<PairScoreFitOptions> = {},
  log: (msg: string) => void = () => {}): Promise<{ model: Uint8Array; report: PairScoreFitReport }> {
  const opts = { ...PAIR_SCORE_FIT_DEFAULTS, ...partial };
  const t0 = performance.now();
  const { train, split, base, session } = await openFit(modelPath);
  const perCondition = (n: number) => UPLOAD_CONDITIONS.flatMap((c) => Array.from({ length: n }, (_, i) => ({ c, i })));
  const digitUploads = (pool: number[], seed: number, n: number) => {
    const jobs = perCondition(n);
    return pageCrops(jobs.length, opts.concurrency, (k) => {
      const rng = createRng(uploadSeed(seed, `pair-score/digit/${jobs[k].c}`, jobs[k].i));
      return encodeUpload(renderUpload(jobs[k].c, train.images, pool[rng.int(pool.length)], rng));
    });
  };
  const pairUploads = (pool: number[], seed: number, n: number) => {
    const jobs = perCondition(n);
    return pageCrops(jobs.length, opts.concurrency, (k) => {
      const rng = createRng(uploadSeed(seed, `pair-score/pair/${jobs[k].c}`, jobs[k].i));
      const pair = [pool[rng.int(pool.length)], pool[rng.int(pool.length)]];
      const { glyph } = writeNumber(train.images, train.labels, pair, [rng.uniform(-1.2, -0.3)], rng);
      return encodeUpload(renderGlyphUpload(jobs[k].c, glyph, rng));
    }, (p) => p.line !== undefined && separateParts(p.line) === 1);
  };
  const markUploads = (seed: number, n: number) => {
    const jobs = TUNED_FAMILIES.flatMap((f) => Array.from({ length: n }, (_, i) => ({ f, i })));
    return pageCrops(jobs.length, opts.concurrency, (k) => encodeUpload(renderNonDigitUpload(jobs[k].f, seed, jobs[k].i).upload));
  };
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
