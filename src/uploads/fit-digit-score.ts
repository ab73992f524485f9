import { readFileSync } from 'node:fs';
import { Dataset, loadMnist, PIXELS, stratifiedSplit, subset, toFloat } from '../data/mnist';
import { createRng } from '../data/rng';
import { copyInto } from '../data/augment';
import { CORRUPTION_KINDS, corrupt } from '../data/corruptions';
import { argmaxRows } from '../metrics/classification';
import { openSession, type OnnxSession } from '../onnx/ort-session';
import { addDigitScoreHead, DIGIT_SCORE_FEATURES, FIT_DEFAULTS, fitScoreHead, headLogits, lowerQuantile, withOutputs } from '../onnx/digit-score';
import type { Predictor } from '../predictor';
import { renderUpload, UPLOAD_CONDITIONS, uploadSeed } from './conditions';
import { encodeUpload, forEachLimited, stack } from './evaluate-uploads';
import { renderNonDigitUpload, TUNED_FAMILIES } from './non-digits';
import { lineCandidates } from '../train/line-candidates';

/**
 * Fitting the digit-score head on the tuned non-digit families only. What it learns from and where the
 * line goes are fixed here, before any held-out family is drawn:
 * - digits: MNIST training images (not the validation split) as the model sees them, and realistic
 *   uploads of MNIST training digits through the predictor (photos, papers, canvas), seed `fitSeed`;
 *   and the line candidates that read numbers of training digits digit by digit (a digit cut out of a
 *   line, narrower or cut through a join, looks unlike a page's crop; docs/not-a-digit.md);
 * - non-digits: marks of the tuned families as uploads through the predictor, seed `fitSeed` (marks
 *   drawn straight into 28×28 as well made the head worse on uploads: 69% of tuned-family uploads
 *   refused against 81% without them, at 99.9% of validation digits kept);
 * - the line: the logit under which `lineShare` of the validation digits fall (MNIST validation images,
 *   seed `validationSeed` uploads, and the line candidates of seed `validationSeed` numbers of validation
 *   digits; those the model reads right): a digit cut out of a line is a digit the server must keep too.
 */
export interface DigitScoreFitOptions {
  mnistDigits: number; // MNIST training images among the digits
  digitUploadsPerCondition: number; // realistic uploads of training digits, per condition
  damagedDigits: number; // MNIST training images with one kind of damage (data/corruptions), evenly over the kinds
  lineNumbersPerKind: number; // numbers of training digits (with gaps, touching) whose line candidates are digits (0: none)
  validationLineNumbersPerKind: number; // numbers of validation digits per kind whose line candidates help place the line (0: none)
  markUploadsPerFamily: number; // tuned-family marks as uploads through the predictor, per family
  validationUploadsPerCondition: number; // seed `validationSeed` uploads for placing the line
  validationMarksPerFamily: number; // tuned-family uploads, seed `validationSeed`, reported with the fit
  fitSeed: number;
  validationSeed: number; // the uploads' tuning seed; the held-out seed (2) is never used here
  lineShare: number; // share of validation digits the line may refuse
  concurrency: number;
}

export const DIGIT_SCORE_FIT_DEFAULTS: Readonly<DigitScoreFitOptions> = Object.freeze({
  mnistDigits: 20_000,
  digitUploadsPerCondition: 50,
  damagedDigits: 6_000,
  lineNumbersPerKind: 400,
  validationLineNumbersPerKind: 100,
  markUploadsPerFamily: 500,
  validationUploadsPerCondition: 40,
  validationMarksPerFamily: 100,
  fitSeed: 100,
  validationSeed: 1,
  lineShare: 0.0005,
  concurrency: 4,
});

export interface DigitScoreFitReport {
  features: string;
  /** lineDigits: of the digits, those cut out of lines of numbers. */
  fit: { digits: number; lineDigits: number; nonDigits: number };
  /** lineDigits: of the digits, those cut out of lines of numbers (all read right: they read the label). */
  validation: { digits: number; lineDigits: number; refusedDigits: number; marks: number; refusedMarks: number };
  lineShare: number;
  seconds: number;
}

/**
 * 28×28 inputs of `count` uploads through the predictor, in upload order whatever order they finish in
 * (the fit is seeded, so the same uploads must give the same rows); those refused before the model
 * are skipped.
 */
async function inputsOf(predictor: Predictor, count: number, concurrency: number, make: (i: number) => Promise<Uint8Array>): Promise<{ inputs: Float32Array[]; index: number[] }> {
  const byUpload: Array<Float32Array | undefined> = new Array(count);
  await forEachLimited(count, concurrency, async (i) => {
    try {
      byUpload[i] = (await predictor.predictBytes(await make(i))).input28;
    } catch {
      // nothing stood out: IMAGE_NO_DIGIT before the model, so the head never sees it
    }
  });
  const index = byUpload.flatMap((x, i) => (x ? [i] : []));
  return { inputs: index.map((i) => byUpload[i]!), index };
}

/** Uploads of MNIST digits `pool` under every condition, with their labels. */
function digitUploads(predictor: Predictor, data: Dataset, pool: number[], seed: number, perCondition: number, concurrency: number) {
  const jobs = UPLOAD_CONDITIONS.flatMap((c) => Array.from({ length: perCondition }, (_, i) => ({ c, i })));
  const labels: number[] = [];
  return inputsOf(predictor, jobs.length, concurrency, async (k) => {
    const { c, i } = jobs[k];
    const rng = createRng(uploadSeed(seed, `digit-score/${c}`, i));
    const index = pool[rng.int(pool.length)];
    labels[k] = data.labels[index];
    return encodeUpload(renderUpload(c, data.images, index, rng));
  }).then((r) => ({ ...r, labels: r.index.map((k) => labels[k]) }));
}

/**
 * What a score head's fit starts from: MNIST's training set and the training run's split (its
 * validation images stay unseen by the fit), the model's bytes, and a session of the model that also
 * answers fc1's features (the heads' input). The caller closes the session.
 */
export async function openFit(modelPath: string): Promise<{ train: Dataset; split: { train: number[]; val: number[] }; base: Uint8Array; session: OnnxSession }> {
  const { train } = await loadMnist();
  const split = stratifiedSplit(train.labels, 5000, 42);
  const base = readFileSync(modelPath);
  const session = await openSession(withOutputs(base, [[DIGIT_SCORE_FEATURES, 1000]]), { intraOpNumThreads: 2 });
  return { train, split, base, session };
}

/** fc1's features and the digit read for each 28×28 image of `images`, in batches of 256. */
export async function fc1Features(session: OnnxSession, images: Float32Array): Promise<{ fc1: Float32Array; digits: Int32Array }> {
  const n = images.length / PIXELS, fc1 = new Float32Array(n * 1000), digits = new Int32Array(n);
  for (let i = 0; i < n; i += 256) {
    const k = Math.min(256, n - i);
    const out = await session.run(images.slice(i * PIXELS, (i + k) * PIXELS), k);
    fc1.set(out.outputs[DIGIT_SCORE_FEATURES], i * 1000);
    digits.set(argmaxRows(out.probabilities), i);
  }
  return { fc1, digits };
}

/**
 * Fits the head on the model at `modelPath` and returns the model bytes with it, and a report.
 * `predictor` preprocesses the uploads (any model: only its 28×28 inputs are used).
 */
/** `count` damaged copies of images of `pool`, the kinds in turn, seeded by `seed` and the copy's index. */
function damagedDigits(data: Dataset, pool: number[], count: number, seed: number): Float32Array {
  const out = new Float32Array(count * PIXELS);
  for (let k = 0; k < count; k++) {
    const img = out.subarray(k * PIXELS, (k + 1) * PIXELS);
    copyInto(data.images, pool[(k * 7919) % pool.length], img, 0);
    corrupt(img, CORRUPTION_KINDS[k % CORRUPTION_KINDS.length], createRng((seed * 1_000_003 + k) >>> 0));
  }
  return out;
}

export async function fitDigitScore(modelPath: string, predictor: Predictor, partial: Partial<DigitScoreFitOptions> = {},
  log: (msg: string) => void = () => {}): Promise<{ model: Uint8Array; report: DigitScoreFitReport }> {
  const opts = { ...DIGIT_SCORE_FIT_DEFAULTS, ...partial };
  const t0 = performance.now();
  const { train, split, base, session } = await openFit(modelPath);
  const features = (images: Float32Array) => fc1Features(session, images);
  const mnistImages = (indices: number[]) => toFloat(subset(train, indices).images);
  try {
    const fitPool = split.train.slice(0, opts.mnistDigits);
    log(`digits: ${fitPool.length} MNIST training images, ${opts.digitUploadsPerCondition} uploads per condition`);
    const fitUploads = await digitUploads(predictor, train, split.train, opts.fitSeed, opts.digitUploadsPerCondition, opts.concurrency);
    // A fogged, blurred or striped digit is still a digit: the model reads them (it trains on them), so
    // the head must not refuse them either.
    log(`damaged digits: ${opts.damagedDigits} MNIST training images, each with one kind of damage`);
    const damaged = damagedDigits(train, fitPool, opts.damagedDigits, opts.fitSeed);
    log(`line candidates of ${opts.lineNumbersPerKind} numbers with gaps and ${opts.lineNumbersPerKind} touching`);
    const trainOnly = subset(train, split.train);
    const inLines = (await lineCandidates(session, trainOnly.images, trainOnly.labels, opts.fitSeed, opts.lineNumbersPerKind, opts.concurrency)).singles;
    const digitFeatures = await features(new Float32Array([...mnistImages(fitPool), ...stack(fitUploads.inputs), ...damaged, ...inLines]));

    log(`non-digits: ${opts.markUploadsPerFamily} uploads per tuned family (${TUNED_FAMILIES.join(', ')})`);
    const markJobs = TUNED_FAMILIES.flatMap((f) => Array.from({ length: opts.markUploadsPerFamily }, (_, i) => ({ f, i })));
    const markUploads = await inputsOf(predictor, markJobs.length, opts.concurrency, (k) => encodeUpload(renderNonDigitUpload(markJobs[k].f, opts.fitSeed, markJobs[k].i).upload));
    const nonDigitFeatures = await features(stack(markUploads.inputs));

    log('fitting the head');
    const head = fitScoreHead(digitFeatures.fc1, nonDigitFeatures.fc1, 1000);

    log('placing the line on validation digits');
    const valUploads = await digitUploads(predictor, train, split.val, opts.validationSeed, opts.validationUploadsPerCondition, opts.concurrency);
    const valMnist = await features(mnistImages(split.val));
    const valUp = await features(stack(valUploads.inputs));
    const rightLogits = (f: { fc1: Float32Array; digits: Int32Array }, labels: ArrayLike<number>) => {
      const all = headLogits(head, f.fc1);
      return Array.from(all).filter((_, i) => f.digits[i] === labels[i]);
    };
    const pageDigits = [...rightLogits(valMnist, split.val.map((j) => train.labels[j])), ...rightLogits(valUp, valUploads.labels)];
    const valOnly = subset(train, split.val);
    const valLines = (await lineCandidates(session, valOnly.images, valOnly.labels, opts.validationSeed, opts.validationLineNumbersPerKind, opts.concurrency)).singles;
    const lineDigits = Array.from(headLogits(head, (await features(valLines)).fc1));
    const valDigits = [...pageDigits, ...lineDigits];
    const line = lowerQuantile(valDigits, opts.lineShare);
    log(`line at logit ${line.toFixed(3)} (page digits alone: ${lowerQuantile(pageDigits, opts.lineShare).toFixed(3)})`);
    head.b2 -= line;

    const valJobs = TUNED_FAMILIES.flatMap((f) => Array.from({ length: opts.validationMarksPerFamily }, (_, i) => ({ f, i })));
    const valMarks = await inputsOf(predictor, valJobs.length, opts.concurrency, (k) => encodeUpload(renderNonDigitUpload(valJobs[k].f, opts.validationSeed, valJobs[k].i).upload));
    const markLogits = headLogits(head, (await features(stack(valMarks.inputs))).fc1);
    const report: DigitScoreFitReport = {
      features: DIGIT_SCORE_FEATURES,
      fit: { digits: digitFeatures.digits.length, lineDigits: inLines.length / PIXELS, nonDigits: nonDigitFeatures.digits.length },
      validation: {
        digits: valDigits.length, lineDigits: lineDigits.length, refusedDigits: valDigits.filter((l) => l - line < 0).length,
        marks: valJobs.length, refusedMarks: valJobs.length - valMarks.inputs.length + Array.from(markLogits).filter((l) => l < 0).length,
      },
      lineShare: opts.lineShare,
      seconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
    };
    const info = { method: `MLP on fc1 (1000 → ${FIT_DEFAULTS.hidden} ReLU → 1): outlier exposure on frozen features`, line: 0.5, ...report };
    return { model: addDigitScoreHead(base, { ...head, info }), report };
  } finally {
    await session.close();
  }
}
