import { NUM_CLASSES } from '../data/mnist';
import type { Predictor } from '../predictor';
import { createEceAccumulator, digitsRight } from '../metrics/classification';
import { predictFiles, PREDICT_FILES_DEFAULTS } from './predict-files';
import type { LabelledFile } from './walk';

/** A file read wrong: its label, the number read and that reading's probability. */
export interface Misclassified { file: string; label: string; number: string; probability: number; input28?: number[] }

export interface ImagesReport {
  images: number;
  /** Files whose whole label was read (every digit, nothing more). */
  right: number;
  /** right / images: a file that was refused (no digit, undecodable) counts as wrong. */
  accuracy: number;
  /** Digits in the labels, and how many of them were read (a label's length less the edits from the reading to it). */
  digits: number;
  digitsRight: number;
  digitAccuracy: number;
  /** right / answered: the model's accuracy on the files it gave a digit for. */
  accuracyOfAnswered: number;
  /** Files labelled with one digit, by that digit. */
  perClass: Array<{ digit: number; images: number; right: number; accuracy: number }>;
  /** rows: true digit, columns: the answer, for the files labelled and read as one digit. */
  confusion: number[][];
  /** Of the whole reading's probability against the whole label read right. */
  ece: number;
  noDigit: number;
  errors: Record<string, number>; // other error codes
  misclassified: Misclassified[]; // every wrong answer; input28 for the first `withInput` of them
  refused: Array<{ file: string; label: string; code: string }>;
}

const round = (x: number) => Number(x.toFixed(4));

/**
 * Predicts every labelled file (streamed, bounded in flight) and counts: accuracy, per-class accuracy,
 * confusion matrix, ECE, refusals and errors, and the misclassified files with what the model saw.
 */
export async function evaluateImages(items: AsyncIterable<LabelledFile>, predictor: Pick<Predictor, 'predictBytes'>,
  opts: { inFlight: number; inFlightBytes?: number; withInput: number; onResult?: (done: number, failed: number) => void }): Promise<ImagesReport> {
  const confusion = Array.from({ length: NUM_CLASSES }, () => new Array<number>(NUM_CLASSES).fill(0));
  const perClass = Array.from({ length: NUM_CLASSES }, (_, digit) => ({ digit, images: 0, right: 0, accuracy: 0 }));
  const ece = createEceAccumulator();
  const r: ImagesReport = { images: 0, right: 0, accuracy: 0, digits: 0, digitsRight: 0, digitAccuracy: 0, accuracyOfAnswered: 0, perClass, confusion, ece: 0, noDigit: 0, errors: {}, misclassified: [], refused: [] };
  let failed = 0;
  for await (const f of predictFiles(items, (x) => x.path, predictor, { inFlight: opts.inFlight, inFlightBytes: opts.inFlightBytes ?? PREDICT_FILES_DEFAULTS.inFlightBytes })) {
    const label = f.item.label;
    const one = label.length === 1 ? Number(label) : -1;
    r.images++;
    r.digits += label.length;
    if (one >= 0) perClass[one].images++;
    if (f.result) {
      const { digit, probability } = f.result.prediction;
      const number = f.result.prediction.number ?? String(digit);
      if (one >= 0 && number.length === 1) confusion[one][digit]++;
      ece.add(probability, number === label);
      r.digitsRight += digitsRight(number, label);
      if (number === label) {
        r.right++;
        if (one >= 0) perClass[one].right++;
      } else {
        const input28 = r.misclassified.length < opts.withInput ? Array.from(f.result.input28, (v) => Number(v.toFixed(3))) : undefined;
        r.misclassified.push({ file: f.path, label, number, probability, ...(input28 ? { input28 } : {}) });
      }
    } else {
      failed++;
      const code = f.error!.code;
      if (code === 'IMAGE_NO_DIGIT') r.noDigit++;
      else r.errors[code] = (r.errors[code] ?? 0) + 1;
      r.refused.push({ file: f.path, label, code });
    }
    opts.onResult?.(r.images, failed);
  }
  const answered = r.images - failed;
  r.accuracy = round(r.images ? r.right / r.images : 0);
  r.accuracyOfAnswered = round(answered ? r.right / answered : 0);
  r.digitAccuracy = round(r.digits ? r.digitsRight / r.digits : 0);
  for (const c of perClass) c.accuracy = round(c.images ? c.right / c.images : 0);
  r.ece = round(ece.value());
  return r;
}

/** A few lines for the terminal. */
export function summarizeImages(r: ImagesReport): string {
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  const errors = Object.entries(r.errors).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  return [
    `${r.right}/${r.images} right: ${pct(r.accuracy)} (of the ${r.images - r.noDigit - Object.values(r.errors).reduce((a, b) => a + b, 0)} answered: ${pct(r.accuracyOfAnswered)}), ECE ${r.ece}`,
    ...(r.digits > r.images ? [`digits: ${r.digitsRight}/${r.digits} read (${pct(r.digitAccuracy)})`] : []),
    `per class: ${r.perClass.map((c) => `${c.digit}: ${c.images ? pct(c.accuracy) : '–'}`).join('  ')}`,
    `refused as no digit: ${r.noDigit}; other errors: ${errors}`,
    `misclassified: ${r.misclassified.length}${r.misclassified.length ? `, e.g. ${r.misclassified.slice(0, 5).map((m) => `${m.file} (${m.label} read as ${m.number})`).join(', ')}` : ''}`,
  ].join('\n');
}
