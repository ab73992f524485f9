import sharp from 'sharp';
import type { Dataset } from '../data/mnist';
import { isAppError } from '../errors';
import type { Prediction, Predictor, PredictResult } from '../predictor';
import { createEceAccumulator, eceFloor, digitsRight } from '../metrics/classification';
import { encodeUpload, forEachLimited } from './evaluate-uploads';
import { escapeXml } from './examples-picture';
import { NumberKind, renderNumberUpload } from './numbers';

/** The sets of numbers: the two kinds of the targets (2–5 digits), and long numbers (6–8 digits). */
export const NUMBER_SETS: readonly { name: string; kind: NumberKind; lengths: [number, number] }[] = [
  { name: 'gaps', kind: 'gaps', lengths: [2, 5] },
  { name: 'touching', kind: 'touching', lengths: [2, 5] },
  { name: 'long', kind: 'gaps', lengths: [6, 8] },
];

export interface NumbersOptions {
  seed: number; // 2 is held out; the reading's prices were fitted on seed 1
  perSet: number; // numbers per set (spread over the 12 conditions in turn); 1,000 by default, so that the ECE's noise floor is well under 0.02
  concurrency: number;
  examples: number; // numbers per set kept for the picture
  sets?: readonly string[]; // only these sets (NUMBER_SETS' names); all when absent
}

export const NUMBERS_DEFAULTS: Readonly<NumbersOptions> = Object.freeze({ seed: 2, perSet: 1000, concurrency: 4, examples: 3 });

export interface NumberSetResult {
  set: string;
  lengths: [number, number];
  images: number;
  right: number; // the whole number read right
  accuracy: number;
  digits: number; // digits written
  digitsRight: number; // digits written less the edits from the reading to them (never below 0 per number)
  digitAccuracy: number;
  errors: Record<string, number>; // answers that were errors, by code
  ece: number; // of the whole-number probability, over this set's answered numbers
  eceFloor: number; // what answers calibrated exactly would show at the same probabilities (metrics' eceFloor)
  wrongByCondition: Record<string, number>;
  meanMs: number;
}

export interface NumbersReport {
  seed: number;
  sets: NumberSetResult[];
  /** Expected calibration error of the whole-number probability (15 bins, as the model's), over every set. */
  ece: number;
  /** The ECE that answers calibrated exactly would show at the same probabilities and count (metrics' eceFloor): the noise in `ece`. */
  eceFloor: number;
  /** Mean whole-number probability of the answered numbers, to set beside `accuracy`. */
  meanProbability: number;
  /** Whole numbers read right over every set. */
  accuracy: number;
}

export interface NumberExample { set: string; index: number; label: string; answer: string; right: boolean; bytes: Uint8Array; prediction?: Prediction; lineReading?: PredictResult['lineReading'] }

/**
 * Writes numbers of `digits` (MNIST test digits for the report; validation digits for the calibration
 * fit) on the realistic pages (numbers.ts), sends each through `predictor` and counts whole numbers and
 * digits read right, and how well the whole-number probability is calibrated. `onExample` gets the
 * first `examples` numbers of each set and every number read wrong.
 */
export async function evaluateNumbers(predictor: Predictor, digits: Dataset, opts: NumbersOptions,
  onExample: (e: NumberExample) => void = () => {}): Promise<NumbersReport> {
  const calibration = createEceAccumulator();
  const probabilities: number[] = [];
  const sets: NumberSetResult[] = [];
  for (const set of NUMBER_SETS.filter((x) => !opts.sets || opts.sets.includes(x.name))) {
    const r: NumberSetResult = { set: set.name, lengths: set.lengths, images: opts.perSet, right: 0, accuracy: 0, digits: 0, digitsRight: 0, digitAccuracy: 0, errors: {}, ece: 0, eceFloor: 0, wrongByCondition: {}, meanMs: 0 };
    const setCalibration = createEceAccumulator();
    const setProbabilities: number[] = [];
    let ms = 0;
    await forEachLimited(opts.perSet, opts.concurrency, async (i) => {
      const { label, condition, upload } = renderNumberUpload(digits.images, digits.labels, set.kind, opts.seed + (set.name === 'long' ? 1000 : 0), i, set.lengths);
      const bytes = await encodeUpload(upload);
      const t0 = performance.now();
      let answer: string;
      let prediction: Prediction | undefined;
      let lineReading: PredictResult['lineReading'];
      try {
        ({ prediction, lineReading } = await predictor.predictBytes(bytes));
        answer = prediction.number ?? String(prediction.digit);
        calibration.add(prediction.probability, answer === label);
        setCalibration.add(prediction.probability, answer === label);
        probabilities.push(prediction.probability);
        setProbabilities.push(prediction.probability);
      } catch (err) {
        answer = isAppError(err) ? err.code : 'UNEXPECTED';
        r.errors[answer] = (r.errors[answer] ?? 0) + 1;
      }
      ms += performance.now() - t0;
      const right = answer === label;
      if (right) r.right++;
      else r.wrongByCondition[condition] = (r.wrongByCondition[condition] ?? 0) + 1;
      r.digits += label.length;
      r.digitsRight += prediction ? digitsRight(answer, label) : 0;
      if (i < opts.examples || !right) onExample({ set: set.name, index: i, label, answer, right, bytes, prediction, lineReading });
    });
    r.accuracy = Number((r.right / r.images).toFixed(4));
    r.digitAccuracy = Number((r.digitsRight / r.digits).toFixed(4));
    r.meanMs = Number((ms / r.images).toFixed(1));
    r.ece = Number(setCalibration.value().toFixed(4));
    r.eceFloor = Number(eceFloor(setProbabilities).toFixed(4));
    sets.push(r);
  }
  const right = sets.reduce((s, x) => s + x.right, 0), images = sets.reduce((s, x) => s + x.images, 0);
  return {
    seed: opts.seed, sets,
    ece: Number(calibration.value().toFixed(4)),
    eceFloor: Number(eceFloor(probabilities).toFixed(4)),
    meanProbability: Number((probabilities.reduce((a, b) => a + b, 0) / Math.max(1, probabilities.length)).toFixed(4)),
    accuracy: Number((right / images).toFixed(4)),
  };
}

const TILE_W = 300, TILE_H = 170, LABEL = 22;

/** A PNG of numbers as sent, each with the boxes of the digits read drawn over it, the number written and the number read. */
export async function numbersPicture(examples: NumberExample[], columns = 3): Promise<Buffer> {
  const rows = Math.ceil(examples.length / columns);
  const layers: Array<{ input: Buffer; left: number; top: number }> = [];
  for (const [k, e] of examples.entries()) {
    const meta = await sharp(e.bytes).metadata();
    const w = meta.width ?? 1, h = meta.height ?? 1;
    const boxes = (e.prediction?.digits ?? []).map((d) => `<rect x="${d.box.x}" y="${d.box.y}" width="${d.box.width}" height="${d.box.height}" fill="none" stroke="#e0301e" stroke-width="${Math.max(2, Math.round(w / 250))}"/>`);
    const drawn = await sharp(e.bytes).flatten({ background: '#ffffff' }).composite([{ input: Buffer.from(`<svg width="${w}" height="${h}">${boxes.join('')}</svg>`) }]).png().toBuffer();
    const tile = await sharp(drawn).resize(TILE_W - 6, TILE_H - LABEL - 6, { fit: 'contain', background: '#ffffff' }).png().toBuffer();
    const left = (k % columns) * TILE_W, top = Math.floor(k / columns) * TILE_H;
    layers.push({ input: tile, left: left + 3, top: top + LABEL + 3 });
    const text = `<svg width="${TILE_W}" height="${LABEL}"><text x="4" y="16" font-family="sans-serif" font-size="13">${escapeXml(e.set)}: ${e.label} → `
      + `<tspan fill="${e.right ? '#106010' : '#b01010'}">${escapeXml(e.answer)}</tspan>${e.prediction ? ` (${e.prediction.probability.toFixed(3)})` : ''}</text></svg>`;
    layers.push({ input: Buffer.from(text), left, top });
  }
  return sharp({ create: { width: columns * TILE_W, height: rows * TILE_H, channels: 3, background: '#f4f4f4' } }).composite(layers).png().toBuffer();
}
