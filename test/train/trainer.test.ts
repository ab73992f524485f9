import { mkdtempSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMnist, PIXELS } from '../../src/data/mnist';
import { resolveTrainConfig } from '../../src/train/config';
import { evaluateSavedModel } from '../../src/train/evaluate-model';
import { train, TrainingReport } from '../../src/train/trainer';
import { trainSeeds } from '../../src/train/seeds';
import { writeTrainingReport } from '../../src/train/report-plots';
import { exportAndVerify, PARITY_LIMITS } from '../../src/onnx/export-and-verify';
import { fileSha256 } from '../../src/onnx/model-card';
import { composePair, encodeOutlierMarks } from '../../src/data/outliers';
import { createRng } from '../../src/data/rng';

// conv1 8·(9+1), conv2_k 16·(72+1), conv3_k 32·(144+1), fc1 128·(7·7·64+1), fc2 64·129, output 10·65.
const SMALL_PARAMS = 80 + 2 * 1168 + 2 * 4640 + 401_536 + 8256 + 650;
const tmp = () => mkdtempSync(join(tmpdir(), 'mnist-train-'));
const TINY = { conv1Filters: 4, conv2Filters: 4, conv3Filters: 8, fc1Units: 16, fc2Units: 16 };
/** The same branched architecture at a fraction of the width: what the smoke run trains (the full net's size is test/model's). */
const SMALL = { conv1Filters: 8, conv2Filters: 16, conv3Filters: 32, fc1Units: 128, fc2Units: 64 };

describe('smoke training run (the branched net at small width, 2,000 training images)', () => {
  it('reaches ≥ 85% on 1,000 test images, writes the model and a report, and the saved model evaluates the same', async () => {
    const out = tmp();
    const config = resolveTrainConfig({
      model: SMALL, trainLimit: 2000, testLimit: 1000, valCount: 500, epochs: 4, batchSize: 64, warmupSteps: 5, augment: false,
      outDir: out, checkpointDir: join(out, 'checkpoints'),
    });
    const lines: string[] = [];
    const report = await train(config, { log: (l) => lines.push(l) });
    console.log(`smoke training: test accuracy ${(report.test.accuracy * 100).toFixed(2)}% on ${report.test.count} images, ` +
      `${report.imagesPerSecond.toFixed(1)} img/s, backend ${report.backend}, ${report.workers} workers, ${report.wallSeconds.toFixed(0)} s`);
    expect(report.test.count).toBe(1000);
    expect(report.test.accuracy).toBeGreaterThanOrEqual(0.85);
    expect(report.params).toBe(SMALL_PARAMS);
    expect(report.epochs).toHaveLength(4);
    expect(report.temperature).toBeGreaterThan(0);
    expect(existsSync(join(out, 'model', 'model.json'))).toBe(true);
    expect(lines.some((l) => /^backend: (wasm|tensorflow)/.test(l))).toBe(true);
    // The saved tfjs model, read back as `make evaluate-tfjs` reads it, on the same 1,000 images.
    const { test } = await loadMnist();
    const first = { count: 1000, images: test.images.subarray(0, 1000 * PIXELS), labels: test.labels.subarray(0, 1000) };
    const { evaluation } = await evaluateSavedModel(join(out, 'model'), first);
    expect(evaluation.accuracy).toBe(report.test.accuracy);

    // The report and its pictures, as `make train` writes them.
    writeTrainingReport(report, out);
    expect(JSON.parse(readFileSync(join(out, 'training-report.json'), 'utf8')).test.accuracy).toBe(report.test.accuracy);
    const curves = readFileSync(join(out, 'training-curves.svg'), 'utf8');
    expect(curves).toMatch(/^<svg[^>]*>[\s\S]*<\/svg>$/);
    expect(curves.match(/<polyline/g)?.length).toBeGreaterThanOrEqual(2);
    const matrix = readFileSync(join(out, 'confusion-matrix.svg'), 'utf8');
    expect(matrix).toContain(`accuracy ${(report.test.accuracy * 100).toFixed(2)}%`);
    expect(matrix.match(/<rect/g)?.length).toBeGreaterThanOrEqual(100);

    // The release step on this model: parity gates, both exports evaluated on the 10k test set, the card.
    const card = await exportAndVerify({ modelDir: join(out, 'model'), outDir: out, name: 'smoke', backend: 'auto', parityImages: 64, log: () => {} });
    expect(card.file).toBe('smoke.int8.onnx');
    expect(fileSha256(join(out, card.file))).toBe(card.sha256);
    expect(card.parameters).toBe(SMALL_PARAMS);
    expect(card.parity.fp32MaxAbsProbDiff).toBeLessThanOrEqual(PARITY_LIMITS.fp32MaxAbsProbDiff);
    expect(card.parity.int8ArgmaxAgreement).toBeGreaterThanOrEqual(PARITY_LIMITS.int8MinArgmaxAgreement);
    expect(Math.abs(card.testAccuracy - card.fp32TestAccuracy)).toBeLessThan(0.01);
    expect(card.testAccuracy).toBeGreaterThan(0.8); // 10,000 images here, against the run's 1,000
    expect(card.training.seed).toBe(config.seed);
    expect(readFileSync(join(out, 'MODEL_CARD.md'), 'utf8')).toContain(card.sha256.slice(0, 16));

    // A gate that is not met writes nothing.
    const refused = mkdtempSync(join(tmpdir(), 'mnist-export-'));
    await expect(exportAndVerify({
      modelDir: join(out, 'model'), outDir: refused, name: 'smoke', backend: 'auto', parityImages: 64, log: () => {},
      limits: { ...PARITY_LIMITS, int8MinArgmaxAgreement: 1.01 },
    })).rejects.toMatchObject({ code: 'ONNX_GRAPH_INVALID' });
    expect(readdirSync(refused)).toEqual([]);
  }, 900_000);
});

describe('checkpoints, resume and failure modes (tiny configuration, with outlier exposure)', () => {
  // Outlier marks of the run: pairs of test digits stand in for the rendered non-digit uploads.
  const outlierMarks = join(tmp(), 'marks.bin');
  const base = {
    model: TINY, trainLimit: 256, valCount: 128, testLimit: 128, epochs: 2, batchSize: 32, warmupSteps: 2, learningRate: 3e-3,
    outlierMarks, marksPerStep: 3, pairsPerStep: 2,
  };
  beforeAll(async () => {
    const { test } = await loadMnist();
    const marks = new Uint8Array(16 * PIXELS);
    const rng = createRng(5);
    for (let i = 0; i < 16; i++) composePair(test.images, 2 * i, 2 * i + 1, rng, marks.subarray(i * PIXELS, (i + 1) * PIXELS));
    writeFileSync(outlierMarks, encodeOutlierMarks(marks));
  });

  it('an interrupted run resumed from its checkpoint ends with exactly the weights of an uninterrupted one', async () => {
    const a = tmp();
    const straight = await train(resolveTrainConfig({ ...base, outDir: a, checkpointDir: join(a, 'ckpt') }));
    const b = tmp();
    const controller = new AbortController();
    const first = await train(resolveTrainConfig({ ...base, outDir: b, checkpointDir: join(b, 'ckpt') }), {
      signal: controller.signal,
      progress: (p) => { if (p.epoch === 1 && p.step === 5) controller.abort(); },
    });
    expect(first.interrupted).toBe(true);
    expect(existsSync(join(b, 'ckpt', 'last', 'state.json'))).toBe(true);
    const resumed: TrainingReport = await train(resolveTrainConfig({ ...base, outDir: b, checkpointDir: join(b, 'ckpt'), resume: true }));
    expect(resumed.interrupted).toBe(false);
    expect(resumed.stepLosses).toEqual(straight.stepLosses);
    expect(resumed.epochs.map((e) => e.valLoss)).toEqual(straight.epochs.map((e) => e.valLoss));
    expect(resumed.test.loss).toBe(straight.test.loss);
    // The outliers were trained on: their loss against the uniform target is reported every epoch.
    expect(straight.epochs.every((e) => e.outlierLoss! >= Math.log(10) - 1e-4)).toBe(true);
  }, 600_000);

  it('trains a recipe once per seed, ships the best by validation accuracy, and does not retrain a finished seed', async () => {
    const out = tmp();
    const config = resolveTrainConfig({ ...base, epochs: 1, outDir: out, checkpointDir: join(out, 'ckpt') });
    const trained: number[] = [];
    const trainOne = (c: typeof config, hooks: object) => { trained.push(c.seed); return train(c, hooks); };
    const report = await trainSeeds(config, [3, 4], {}, trainOne);
    expect(trained).toEqual([3, 4]);
    expect(report.seeds!.map((r) => r.seed)).toEqual([3, 4]);
    const best = report.seeds!.reduce((a, b) => (b.valAccuracy > a.valAccuracy || (b.valAccuracy === a.valAccuracy && b.valLoss < a.valLoss) ? b : a));
    expect(report.config.seed).toBe(best.seed);
    expect(report.test.accuracy).toBe(best.testAccuracy);
    // The shipped model is that seed's own files.
    expect(readFileSync(join(out, 'model', 'weights.bin'))).toEqual(readFileSync(join(out, 'seeds', String(best.seed), 'model', 'weights.bin')));
    const again = await trainSeeds(config, [3, 4], {}, trainOne);
    expect(trained).toEqual([3, 4]);
    expect(again.seeds).toEqual(report.seeds);
  }, 600_000);

  it('a moving average of the weights is validated and shipped, and leaves the training itself as it was', async () => {
    const a = tmp();
    const plain = await train(resolveTrainConfig({ ...base, outDir: a, checkpointDir: join(a, 'ckpt') }));
    const b = tmp();
    const averaged = await train(resolveTrainConfig({ ...base, emaDecay: 0.95, outDir: b, checkpointDir: join(b, 'ckpt') }));
    expect(averaged.stepLosses).toEqual(plain.stepLosses);
    expect(averaged.epochs.map((e) => e.liveValLoss)).toEqual(plain.epochs.map((e) => e.valLoss));
    expect(averaged.epochs.map((e) => e.liveValAccuracy)).toEqual(plain.epochs.map((e) => e.valAccuracy));
    expect(plain.epochs.every((e) => e.liveValLoss === undefined)).toBe(true);
    for (const e of averaged.epochs) expect(e.valLoss).not.toBe(e.liveValLoss);
    expect(averaged.test.loss).not.toBe(plain.test.loss);
  }, 600_000);

  it('label smoothing trains toward the smoothed target: no step loss goes below its entropy', async () => {
    const epsilon = 0.5;
    const off = epsilon / 10, on = 1 - epsilon + off;
    const floor = -(on * Math.log(on) + 9 * off * Math.log(off)); // 1.68: what a perfect model still pays
    // Long enough for the one-hot run to get below that floor.
    const config = { ...base, marksPerStep: 0, pairsPerStep: 0, augment: false, epochs: 8, learningRate: 1e-2 };
    const a = tmp();
    const plain = await train(resolveTrainConfig({ ...config, outDir: a, checkpointDir: join(a, 'ckpt') }));
    expect(Math.min(...plain.stepLosses)).toBeLessThan(floor);
    const b = tmp();
    const smoothed = await train(resolveTrainConfig({ ...config, labelSmoothing: epsilon, outDir: b, checkpointDir: join(b, 'ckpt') }));
    expect(Math.min(...smoothed.stepLosses)).toBeGreaterThanOrEqual(floor - 1e-4);
    // Its epochs are compared at a fitted temperature: the raw loss of an underconfident model says little.
    const calibrated = smoothed.epochs.map((e) => e.calibratedValLoss!);
    expect(calibrated.every((l) => l > 0)).toBe(true);
    expect(smoothed.bestEpoch).toBe(calibrated.indexOf(Math.min(...calibrated)) + 1);
    expect(plain.epochs.every((e) => e.calibratedValLoss === undefined)).toBe(true);
  }, 600_000);

  it('an interrupted run with a moving average resumes to exactly the uninterrupted one', async () => {
    const a = tmp();
    const config = { ...base, emaDecay: 0.95 };
    const straight = await train(resolveTrainConfig({ ...config, outDir: a, checkpointDir: join(a, 'ckpt') }));
    const b = tmp();
    const controller = new AbortController();
    await train(resolveTrainConfig({ ...config, outDir: b, checkpointDir: join(b, 'ckpt') }), {
      signal: controller.signal,
      progress: (p) => { if (p.epoch === 2 && p.step === 3) controller.abort(); },
    });
    expect(existsSync(join(b, 'ckpt', 'last', 'ema.bin'))).toBe(true);
    const resumed = await train(resolveTrainConfig({ ...config, outDir: b, checkpointDir: join(b, 'ckpt'), resume: true }));
    expect(resumed.epochs.map((e) => [e.valLoss, e.liveValLoss])).toEqual(straight.epochs.map((e) => [e.valLoss, e.liveValLoss]));
    expect(resumed.test.loss).toBe(straight.test.loss);
  }, 600_000);

  it('refuses --resume without a checkpoint (TRAIN_CHECKPOINT_MISSING)', async () => {
    const c = tmp();
    await expect(train(resolveTrainConfig({ ...base, outDir: c, checkpointDir: join(c, 'ckpt'), resume: true })))
      .rejects.toMatchObject({ code: 'TRAIN_CHECKPOINT_MISSING' });
  }, 120_000);

  it('refuses to start without its outlier marks (TRAIN_OUTLIERS_MISSING)', async () => {
    const e = tmp();
    await expect(train(resolveTrainConfig({ ...base, outlierMarks: join(e, 'none.bin'), outDir: e, checkpointDir: join(e, 'ckpt') })))
      .rejects.toMatchObject({ code: 'TRAIN_OUTLIERS_MISSING' });
  }, 120_000);

  it('stops with TRAIN_NON_FINITE_LOSS when the loss blows up', async () => {
    const d = tmp();
    await expect(train(resolveTrainConfig({ ...base, learningRate: 1e38, warmupSteps: 1, outDir: d, checkpointDir: join(d, 'ckpt') })))
      .rejects.toMatchObject({ code: 'TRAIN_NON_FINITE_LOSS', message: expect.stringMatching(/loss became (NaN|Infinity)/) });
  }, 300_000);

  it('rejects a moving average that would never move (emaDecay 1), a target smoothed away (labelSmoothing 1), or negative ones', () => {
    for (const emaDecay of [1, -0.5]) expect(() => resolveTrainConfig({ emaDecay })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    for (const labelSmoothing of [1, -0.1]) expect(() => resolveTrainConfig({ labelSmoothing })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('rejects unknown options (misuse)', () => {
    expect(() => resolveTrainConfig({ epochz: 3 } as never)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});
