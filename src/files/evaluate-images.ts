import { NUM_CLASSES } from '../data/mnist';
import type { Predictor } from '../predictor';
import { createEceAccumulator } from '../metrics/classification';
import { predictFiles, PREDICT_FILES_DEFAULTS } from './predict-files';
import type { LabelledFile } from './walk';

export interface Misclassified { file: string; label: number; digit: number; probability: number; input28?: number[] }

export interface ImagesReport {
  images: number;
  right: number;
  /** right / images: a file that was refused (no digit, undecodable) counts as wrong. */
  accuracy: number;
  /** right / answered: the model's accuracy on the files it gave a digit for. */
  accuracyOfAnswered: number;
  perClass: Array<{ digit: number; images: number; right: number; accuracy: number }>;
  /** rows: true digit, columns: the answer, for the files that got one. */
  confusion: number[][];
  ece: number;
  noDigit: number;
  errors: Record<string, number>; // other error codes
  misclassified: Misclassified[]; // every wrong answer; input28 for the first `withInput` of them
  refused: Array<{ file: string; label: number; code: string }>;
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
  const r: ImagesReport = { images: 0, right: 0, accuracy: 0, accuracyOfAnswered: 0, perClass, confusion, ece: 0, noDigit: 0, errors: {}, misclassified: [], refused: [] };
  let failed = 0;
  for await (const f of predictFiles(items, (x) => x.path, predictor, { inFlight: opts.inFlight, inFlightBytes: opts.inFlightBytes ?? PREDICT_FILES_DEFAULTS.inFlightBytes })) {
    const label = f.item.label;
    r.images++;
    perClass[label].images++;
    if (f.result) {
      const { digit, probability } = f.result.prediction;
      confusion[label][digit]++;
      ece.add(probability, digit === label);
      if (digit === label) {
        r.right++;
        perClass[label].right++;
      } else {
        const input28 = r.misclassified.length < opts.withInput ? Array.from(f.result.input28, (v) => Number(v.toFixed(3))) : undefined;
        r.misclassified.push({ file: f.path, label, digit, probability, ...(input28 ? { input28 } : {}) });
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
    `per digit: ${r.perClass.map((c) => `${c.digit}: ${c.images ? pct(c.accuracy) : '–'}`).join('  ')}`,
    `refused as no digit: ${r.noDigit}; other errors: ${errors}`,
    `misclassified: ${r.misclassified.length}${r.misclassified.length ? `, e.g. ${r.misclassified.slice(0, 5).map((m) => `${m.file} (${m.label} read as ${m.digit})`).join(', ')}` : ''}`,
  ].join('\n');
}
