import { PIXELS, subset, toFloat } from '../data/mnist';
import { composePair } from '../data/outliers';
import { argmaxRows } from '../metrics/classification';
import { createRng } from '../data/rng';
import { addClassHead, CLASS_FIT_DEFAULTS, classProbabilities, fitClassHead, NOT_A_PAIR, PAIR_DIGITS_WIDTH } from '../onnx/pair-digits';
import { separateParts } from '../predictor/read-number';
import { renderGlyphUpload, UPLOAD_CONDITIONS, uploadSeed } from '../uploads/conditions';
import { encodeUpload, stack } from '../uploads/evaluate-uploads';
import { fc1Features, openFit } from '../uploads/fit-digit-score';
import { writeNumber } from '../uploads/numbers';
import { markCrops, oneDigitCrops } from './fit-pair-score';
import { lineCandidates } from './line-candidates';
import { pickFromUploads } from './upload-crops';

/**
 * Fitting the pair reader (src/onnx/pair-digits.ts): which two digits a box of two digits run together
 * holds. What it learns from is fixed here, all of it MNIST training digits (never the validation split):
 * - pairs composed in 28×28 (`composePair`: two digits side by side, overlapping by up to 6 pixels or
 *   apart by 2, scaled and centred the MNIST way), the bulk;
 * - two digits written touching (the numbers set's recipe) and uploaded under every condition, seed
 *   `fitSeed`, kept when the server sees one part: the page's crop of a lone pair;
 * - the line candidates that join two neighbours of a number read digit by digit (`lineCandidates`):
 *   what the reading of a line weighs;
 * - no pair (the last class): MNIST training images, the page's crop of uploads of one training digit
 *   and of the tuned families' non-digit marks (seed `fitSeed`, the pair score's), and the line
 *   candidates of those numbers that hold one digit. Without them a letter gets a confident pair.
 * Reported: composed pairs of validation digits, seed `validationSeed` uploads of touching validation
 * digits, and of one validation digit or a tuned family's mark, "no pair" (the numbers' tuning seed; the
 * held-out seed 2 is never used here).
 */
export interface PairDigitsFitOptions {
  composedPairs: number;
  mnistDigits: number; // MNIST training images in the "no pair" class
  digitUploadsPerCondition: number; // uploads of one training digit per condition, "no pair"
  marksPerFamily: number; // uploads of non-digit marks per tuned family, "no pair"
  pairUploadsPerCondition: number;
  lineNumbersPerKind: number; // numbers of training digits (with gaps, touching) whose joined candidates are used
  validationComposed: number;
  validationUploadsPerCondition: number;
  fitSeed: number;
  validationSeed: number;
  epochs: number;
  concurrency: number;
}

export const PAIR_DIGITS_FIT_DEFAULTS: Readonly<PairDigitsFitOptions> = Object.freeze({
  composedPairs: 50_000,
  mnistDigits: 5000,
  digitUploadsPerCondition: 60,
  marksPerFamily: 200,
  pairUploadsPerCondition: 180,
  lineNumbersPerKind: 400,
  validationComposed: 5000,
  validationUploadsPerCondition: 40,
  fitSeed: 100,
  validationSeed: 1,
  epochs: CLASS_FIT_DEFAULTS.epochs,
  concurrency: 4,
});

export interface PairDigitsFitReport {
  fit: { composed: number; uploads: number; linePairs: number; notPairs: number };
  /** Share read right (the most probable of the 100 pairs and "no pair"). */
  validation: { composed: number; composedAccuracy: number; uploads: number; uploadsAccuracy: number; notPairs: number; notPairsAccuracy: number };
  seconds: number;
}

/** Fits the pair reader on the model at `modelPath`; returns the model bytes with it (the other heads kept) and a report. */
export async function fitPairDigits(modelPath: string, partial: Partial<PairDigitsFitOptions> = {},
  log: (msg: string) => void = () => {}): Promise<{ model: Uint8Array; report: PairDigitsFitReport }> {
  const opts = { ...PAIR_DIGITS_FIT_DEFAULTS, ...partial };
  const t0 = performance.now();
  const { train, split, base, session } = await openFit(modelPath);
  const composed = (pool: number[], n: number, seed: number) => {
    const rng = createRng(seed), x = new Float32Array(n * PIXELS), y = new Int32Array(n), buf = new Uint8Array(PIXELS);
    for (let k = 0; k < n; k++) {
      const a = pool[rng.int(pool.length)], b = pool[rng.int(pool.length)];
      composePair(train.images, a, b, rng, buf);
      for (let i = 0; i < PIXELS; i++) x[k * PIXELS + i] = buf[i] / 255;
      y[k] = train.labels[a] * 10 + train.labels[b];
    }
    return { x, y: Array.from(y) };
  };
  const uploads = async (pool: number[], seed: number, perCondition: number) => {
    const jobs = UPLOAD_CONDITIONS.flatMap((c) => Array.from({ length: perCondition }, (_, i) => ({ c, i })));
    const labels: number[] = [];
    const got = await pickFromUploads(jobs.length, opts.concurrency, (k) => {
      const rng = createRng(uploadSeed(seed, `pair-digits/${jobs[k].c}`, jobs[k].i));
      const pair = [pool[rng.int(pool.length)], pool[rng.int(pool.length)]];
      labels[k] = train.labels[pair[0]] * 10 + train.labels[pair[1]];
      const { glyph } = writeNumber(train.images, train.labels, pair, [rng.uniform(-1.2, -0.3)], rng);
      return encodeUpload(renderGlyphUpload(jobs[k].c, glyph, rng));
    }, (p, k) => (!p.info.empty && p.line !== undefined && separateParts(p.line) === 1 ? [{ input: Float32Array.from(p.input), label: labels[k] }] : []));
    return { inputs: stack(got.map((g) => g.input)), labels: got.map((g) => g.label) };
  };
  try {
    log(`${opts.composedPairs} composed pairs, ${opts.pairUploadsPerCondition} uploads of touching pairs per condition`);
    const own = composed(split.train, opts.composedPairs, opts.fitSeed);
    const up = await uploads(split.train, opts.fitSeed, opts.pairUploadsPerCondition);
    log(`line candidates of ${opts.lineNumbersPerKind} numbers with gaps and ${opts.lineNumbersPerKind} touching`);
    const trainOnly = subset(train, split.train);
    const inLines = await lineCandidates(session, trainOnly.images, trainOnly.labels, opts.fitSeed, opts.lineNumbersPerKind, opts.concurrency);
    log(`no pair: ${opts.mnistDigits} MNIST training images, ${opts.digitUploadsPerCondition} uploads of one digit per condition, ${opts.marksPerFamily} marks per tuned family`);
    const notPairs = [toFloat(subset(train, split.train.slice(0, opts.mnistDigits)).images), await oneDigitCrops(train, split.train, opts.fitSeed, opts.digitUploadsPerCondition, opts.concurrency),
      await markCrops(opts.fitSeed, opts.marksPerFamily, opts.concurrency), inLines.singles];
    const parts = [own.x, up.inputs, inLines.pairs, ...notPairs];
    const x = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((at, p) => { x.set(p, at); return at + p.length; }, 0);
    const notPairCount = notPairs.reduce((n, p) => n + p.length / PIXELS, 0);
    const y = [...own.y, ...up.labels, ...inLines.pairLabels, ...new Array<number>(notPairCount).fill(NOT_A_PAIR)];
    const features = (await fc1Features(session, x)).fc1;
    log(`fitting the reader on ${y.length} pairs`);
    const head = fitClassHead(features, y, 1000, PAIR_DIGITS_WIDTH, { epochs: opts.epochs }, (epoch, loss) => log(`epoch ${epoch}: loss ${loss.toFixed(4)}`));

    log('validation');
    const accuracy = async (images: Float32Array, labels: number[]) => {
      const probs = classProbabilities(head, (await fc1Features(session, images)).fc1);
      const read = argmaxRows(probs, PAIR_DIGITS_WIDTH);
      const right = labels.filter((label, i) => read[i] === label).length;
      return labels.length ? Number((right / labels.length).toFixed(4)) : 0;
    };
    const valComposed = composed(split.val, opts.validationComposed, opts.validationSeed);
    const valUploads = await uploads(split.val, opts.validationSeed, opts.validationUploadsPerCondition);
    const valNotPairs = new Float32Array([...await oneDigitCrops(train, split.val, opts.validationSeed, opts.validationUploadsPerCondition, opts.concurrency),
      ...await markCrops(opts.validationSeed, opts.validationUploadsPerCondition, opts.concurrency)]);
    const valNotPairLabels = new Array<number>(valNotPairs.length / PIXELS).fill(NOT_A_PAIR);
    const report: PairDigitsFitReport = {
      fit: { composed: own.y.length, uploads: up.labels.length, linePairs: inLines.pairLabels.length, notPairs: notPairCount },
      validation: {
        composed: valComposed.y.length, composedAccuracy: await accuracy(valComposed.x, valComposed.y),
        uploads: valUploads.labels.length, uploadsAccuracy: await accuracy(valUploads.inputs, valUploads.labels),
        notPairs: valNotPairLabels.length, notPairsAccuracy: await accuracy(valNotPairs, valNotPairLabels),
      },
      seconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
    };
    const info = { method: `MLP on fc1 (1000 → ${CLASS_FIT_DEFAULTS.hidden} ReLU → ${PAIR_DIGITS_WIDTH}, softmax): which two digits a box of two touching digits holds, or none`, ...report };
    return { model: addClassHead(base, { ...head, info }), report };
  } finally {
    await session.close();
  }
}
