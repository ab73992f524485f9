import { loadMnist } from '../../src/data/mnist';
import { createPredictor, Predictor } from '../../src/predictor';
import { resolvePredictorOptions } from '../../src/predictor/options';
import { corruptedImage, evaluateCorrupted } from '../../src/uploads/evaluate-corrupted';

const MODEL = process.env.TEST_MODEL ?? 'artifacts/mnist-cnn.int8.onnx';
let predictor: Predictor;

beforeAll(async () => {
  predictor = createPredictor(MODEL, resolvePredictorOptions({ workers: 1, decodeWorkers: 1, maxBatchDelayMs: 1 }));
  await predictor.ready;
});
afterAll(() => predictor.close());

describe('evaluateCorrupted', () => {
  it('reads each kind by the model alone and through the server path, with the real model', async () => {
    const { test } = await loadMnist();
    const seen: string[] = [];
    const report = await evaluateCorrupted(predictor, test, { seed: 3, count: 12, kinds: ['shear', 'stripe'] }, (r) => seen.push(r.kind));
    expect(seen).toEqual(['shear', 'stripe']);
    for (const k of report.kinds) {
      expect(k.images).toBe(12);
      expect(k.serverAccuracy + k.refused / 12).toBeLessThanOrEqual(1);
    }
    // A mild shear leaves a digit readable; inverted bands are the hard case.
    expect(report.kinds[0].modelAccuracy).toBeGreaterThanOrEqual(10 / 12);
    expect(report.meanModelAccuracy).toBeCloseTo((report.kinds[0].modelAccuracy + report.kinds[1].modelAccuracy) / 2, 3);
    expect(report.worstServer.accuracy).toBe(Math.min(...report.kinds.map((k) => k.serverAccuracy)));
  }, 120_000);

  it('damages the same image the same way for a seed, and differently for another', async () => {
    const { test } = await loadMnist();
    expect(corruptedImage(test, 5, 'fog', 1)).toEqual(corruptedImage(test, 5, 'fog', 1));
    expect(corruptedImage(test, 5, 'fog', 1)).not.toEqual(corruptedImage(test, 5, 'fog', 2));
  });
});
