import sharp from 'sharp';
import { loadMnist, stratifiedSplit, subset } from '../../src/data/mnist';
import { createPredictor, Predictor } from '../../src/predictor';
import { resolvePredictorOptions } from '../../src/predictor/options';
import { evaluateNumbers, NumberExample, numbersPicture, NUMBER_SETS } from '../../src/uploads/evaluate-numbers';
import { renderNumberUpload } from '../../src/uploads/numbers';
import { encodeUpload } from '../../src/uploads/evaluate-uploads';
import { TEST_MODEL } from '../helpers/model';
import { fitNumberCalibration } from '../../src/uploads/fit-number-calibration';
import { calibrateNumber } from '../../src/predictor/read-number';

let predictor: Predictor;

beforeAll(async () => {
  predictor = createPredictor(TEST_MODEL, resolvePredictorOptions({ workers: 1, decodeWorkers: 1, maxBatchDelayMs: 1 }));
  await predictor.ready;
});
afterAll(() => predictor.close());

describe('evaluateNumbers', () => {
  it('counts whole numbers and digits over every set, and draws the examples with their boxes', async () => {
    const { test } = await loadMnist();
    const examples: NumberExample[] = [];
    const report = await evaluateNumbers(predictor, test, { seed: 9, perSet: 2, concurrency: 2, examples: 1 }, (e) => examples.push(e));
    expect(report.sets.map((s) => s.set)).toEqual(NUMBER_SETS.map((s) => s.name));
    for (const s of report.sets) {
      expect(s.images).toBe(2);
      expect(s.digits).toBeGreaterThanOrEqual(2 * s.lengths[0]);
      expect(s.digits).toBeLessThanOrEqual(2 * s.lengths[1]);
      expect(s.right).toBeLessThanOrEqual(s.images);
      expect(s.digitsRight).toBeLessThanOrEqual(s.digits);
      expect(s.accuracy).toBeCloseTo(s.right / s.images, 4);
    }
    expect(report.accuracy).toBeCloseTo(report.sets.reduce((a, s) => a + s.right, 0) / 6, 4);
    expect(report.ece).toBeGreaterThanOrEqual(0);
    // The first of each set, and every number read wrong (for --failures).
    const firsts = examples.filter((e) => e.index === 0);
    expect(firsts.map((e) => e.set)).toEqual(NUMBER_SETS.map((s) => s.name));
    expect(examples.filter((e) => !e.right)).toHaveLength(6 - report.sets.reduce((a, s) => a + s.right, 0));
    for (const e of examples) expect(e.right).toBe(e.answer === e.label);
    const png = await numbersPicture(firsts);
    expect(await sharp(png).metadata()).toMatchObject({ width: 900, height: 170 });
  }, 120_000);

  it('runs only the sets asked for', async () => {
    const { test } = await loadMnist();
    const report = await evaluateNumbers(predictor, test, { seed: 9, perSet: 1, concurrency: 1, examples: 0, sets: ['long'] });
    expect(report.sets.map((s) => s.set)).toEqual(['long']);
  }, 60_000);

  it('cuts two touching digits that the digit score takes for one digit when the pair score says two (tuning seed 1, touching #187)', async () => {
    const { test } = await loadMnist();
    const touching = NUMBER_SETS.find((s) => s.name === 'touching')!;
    const { label, upload } = renderNumberUpload(test.images, test.labels, touching.kind, 1, 187, touching.lengths);
    const res = await predictor.predictBytes(await encodeUpload(upload));
    expect(label).toBe('39');
    // Without the pair score's route to a cut (lonePairScore) the lone mark is one digit, read "3".
    expect(res.prediction.number).toBe('39');
    expect(res.prediction.digits!.map((d) => d.digit)).toEqual([3, 9]);
  }, 60_000);

  it('fits the number calibration on numbers of validation digits through the predictor', async () => {
    const { train } = await loadMnist();
    const validation = subset(train, stratifiedSplit(train.labels, 5000, 42).val);
    const fit = await fitNumberCalibration(predictor, validation, { seeds: [11], perSet: 3, concurrency: 2 });
    expect(fit.numbers).toBe(9);
    expect(fit.readings).toBeGreaterThan(0);
    expect(fit.readings).toBeLessThanOrEqual(9);
    for (const w of Object.values(fit.calibration)) expect(Number.isFinite(w)).toBe(true);
    // A calibration must keep the order of the readings' probabilities.
    expect(fit.calibration.logitWeight).toBeGreaterThan(0);
    expect(calibrateNumber(0.9, 3, false, fit.calibration)).toBeGreaterThan(calibrateNumber(0.5, 3, false, fit.calibration));
    expect(fit.ece.floor).toBeGreaterThanOrEqual(0);
  }, 120_000);
});
