import { createHash } from 'node:crypto';
import { loadMnist, Dataset, PIXELS } from '../../src/data/mnist';
import { createRng } from '../../src/data/rng';
import { openSession, OnnxSession } from '../../src/onnx/ort-session';
import { decodeImage } from '../../src/image/decode';
import { createPreprocessor } from '../../src/image/preprocess';
import { argmaxRows } from '../../src/metrics/classification';
import { digitSampler, EMPTY_CONDITIONS, renderUpload, UPLOAD_CONDITIONS, uploadSeed } from '../../src/uploads/conditions';
import { renderLayout } from '../../src/uploads/layouts';
import { encodeUpload, evaluateUploads, UploadExample, UPLOADS_DEFAULTS } from '../../src/uploads/evaluate-uploads';
import { examplesPicture } from '../../src/uploads/examples-picture';
import { createPredictor, resolvePredictorOptions } from '../../src/predictor';
import sharp from 'sharp';
import { TEST_MODEL } from '../helpers/model';

const SEED = 11; // neither the tuning seed (1) nor the held-out one (2)
const PER_CONDITION = 3;

let test: Dataset;
let session: OnnxSession;

beforeAll(async () => {
  test = (await loadMnist()).test;
  session = await openSession(TEST_MODEL);
});

async function upload(condition: string, i: number): Promise<{ bytes: Uint8Array; label: number }> {
  const rng = createRng(uploadSeed(SEED, condition, i));
  const index = rng.int(test.count);
  return { bytes: await encodeUpload(renderUpload(condition as never, test.images, index, rng)), label: test.labels[index] };
}

describe('realistic uploads: decode (sharp) → find the digit → model', () => {
  it('renders the same file for the same seed', async () => {
    const a = await upload('shadow', 0);
    const b = await upload('shadow', 0);
    const c = await upload('shadow', 1);
    const hash = (x: Uint8Array) => createHash('sha256').update(x).digest('hex');
    expect(hash(a.bytes)).toBe(hash(b.bytes));
    expect(hash(a.bytes)).not.toBe(hash(c.bytes));
  });

  it.each(UPLOAD_CONDITIONS)('reads the digit in %s pictures', async (condition) => {
    const inputs = new Float32Array(PER_CONDITION * PIXELS);
    const labels: number[] = [];
    for (let i = 0; i < PER_CONDITION; i++) {
      const { bytes, label } = await upload(condition, i);
      const { input, info } = createPreprocessor().run((await decodeImage(bytes, 40e6, 'sharp')).bitmap);
      expect(info.empty).toBe(false);
      expect(info.path).toBe('normalized');
      inputs.set(input, i * PIXELS);
      labels.push(label);
    }
    const { probabilities } = await session.run(inputs, PER_CONDITION);
    expect(Array.from(argmaxRows(probabilities))).toEqual(labels);
  });

  it.each(EMPTY_CONDITIONS)('finds no digit in %s pictures', async (condition) => {
    for (let i = 0; i < PER_CONDITION; i++) {
      const { bytes } = await upload(condition, i);
      const { input, info } = createPreprocessor().run((await decodeImage(bytes, 40e6, 'sharp')).bitmap);
      expect(info.empty).toBe(true);
      expect(input.every((v) => v === 0)).toBe(true);
    }
  });
});

describe('evaluateUploads through the predictor', () => {
  it('counts right answers and refusals per condition and per non-digit family, and draws the examples', async () => {
    const predictor = createPredictor(TEST_MODEL, resolvePredictorOptions({ workers: 1, notDigit: 'flag' }));
    try {
      await predictor.ready;
      const examples: UploadExample[] = [];
      const report = await evaluateUploads(predictor, test, { ...UPLOADS_DEFAULTS, seed: SEED, perCondition: 2, perEmptyCondition: 1, perNonDigitFamily: 2, only: ['canvas-rgba', 'noisy-scan', 'empty-canvas', 'shapes'] },
        (e) => examples.push(e));
      expect(report.conditions.map((c) => [c.condition, c.images, c.right])).toEqual([['noisy-scan', 2, 2], ['canvas-rgba', 2, 2]]);
      expect(report.overall).toMatchObject({ images: 4, right: 4, accuracy: 1 });
      expect(report.empty).toEqual([expect.objectContaining({ condition: 'empty-canvas', images: 1, noDigit: 1, accuracy: 1 })]);
      expect(report.emptyRefused).toEqual({ images: 1, refused: 1 });
      const [shapes] = report.nonDigits;
      expect(shapes).toMatchObject({ family: 'shapes', heldOut: true, images: 2 });
      expect(shapes.refused + Object.values(shapes.answered).reduce((a, b) => a + b, 0)).toBe(2);
      expect(shapes.refused).toBe(shapes.noDigit + shapes.notDigit);
      expect(report.scores.digits).toHaveLength(4);
      expect(report.scores.heldOut.length + shapes.noDigit).toBe(2);
      expect(report.scores.digits.every((x) => x >= 0 && x <= 1)).toBe(true);
      // Conditions run one after another; within one, answers come in the order the decoding threads finish.
      const order = examples.map((e) => e.condition).filter((c, i, all) => all.indexOf(c) === i);
      expect(order.slice(0, 3)).toEqual(['noisy-scan', 'canvas-rgba', 'empty-canvas']);
      expect(order.slice(3).every((c) => c.startsWith('shapes/'))).toBe(true);
      const sorted = [...examples].filter((e) => !e.condition.includes('/')).sort((a, b) => order.indexOf(a.condition) - order.indexOf(b.condition) || a.index - b.index);
      expect(sorted.map((e) => [e.condition, e.index, e.right])).toEqual([['noisy-scan', 0, true], ['noisy-scan', 1, true], ['canvas-rgba', 0, true], ['canvas-rgba', 1, true], ['empty-canvas', 0, true]]);
      const picture = await examplesPicture(sorted.filter((e) => e.index === 0));
      expect(await sharp(picture).metadata()).toMatchObject({ format: 'png', width: 3 * 112, height: 30 + 2 * 112 });
    } finally {
      await predictor.close();
    }
  });

  it('reads the layout families, tuned and held out apart, and says which hypothesis answered', async () => {
    const predictor = createPredictor(TEST_MODEL, resolvePredictorOptions({ workers: 1, notDigit: 'flag' }));
    try {
      await predictor.ready;
      const report = await evaluateUploads(predictor, test, { ...UPLOADS_DEFAULTS, seed: SEED, perLayout: 2, only: ['tight-crop', 'thick-marker', 'low-res-scan'] });
      expect(report.conditions).toEqual([]);
      expect(report.layouts.map((l) => [l.condition, l.heldOut, l.images])).toEqual([['tight-crop', false, 2], ['thick-marker', false, 2], ['low-res-scan', true, 2]]);
      expect(report.layouts.slice(0, 2).map((l) => l.right)).toEqual([2, 2]);
      expect(report.layoutSummary.tuned).toBe(1);
      // A digit cut tightly (strokes touching every edge): the page pipeline drops what touches the
      // edges; the whole picture read as the digit's crop answers, and the debug readings say so.
      const rng = createRng(uploadSeed(SEED, 'tight-crop', 0));
      const index = rng.int(test.count);
      const bytes = await encodeUpload(renderLayout('tight-crop', { sample: digitSampler(test.images, index), cols: 28, rows: 28 }, rng));
      const res = await predictor.predictBytes(bytes);
      expect(res.prediction.digit).toBe(test.labels[index]);
      expect(res.readings!.filter((r) => r.chosen)).toHaveLength(1);
      expect(res.readings!.map((r) => r.kind)).toContain('tight');
      // A sheet on a desk whose grain and edges, read as a line, make "971": the number's characters
      // are not all on the sheet, so the one digit on it answers.
      const sheetRng = createRng(uploadSeed(SEED, 'sheet-on-desk', 27));
      const sheetIndex = sheetRng.int(test.count);
      const sheet = await predictor.predictBytes(await encodeUpload(renderLayout('sheet-on-desk', { sample: digitSampler(test.images, sheetIndex), cols: 28, rows: 28 }, sheetRng)));
      expect(sheet.readings!.map((r) => r.kind)).toContain('sheet');
      expect(sheet.prediction.number).toBe(String(test.labels[sheetIndex]));
      // A thick 5 whose blobs the line read as "28" (probability 0.31): the whole picture's crop, which
      // holds both characters, reads 5 with 0.998 and answers (a picture of the tuning seed).
      const thickRng = createRng(uploadSeed(1, 'thick-marker', 368));
      const thickIndex = thickRng.int(test.count);
      const thick = await predictor.predictBytes(await encodeUpload(renderLayout('thick-marker', { sample: digitSampler(test.images, thickIndex), cols: 28, rows: 28 }, thickRng)));
      expect(test.labels[thickIndex]).toBe(5);
      expect(thick.prediction.number).toBe('5');
      expect(thick.info.path).toBe('tight');
    } finally {
      await predictor.close();
    }
  });
});
