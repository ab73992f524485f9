import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveTrainConfig } from '../../src/train/config';
import { train, TrainingReport } from '../../src/train/trainer';

const tmp = () => mkdtempSync(join(tmpdir(), 'mnist-train-'));
const TINY = { conv1Filters: 4, conv2Filters: 4, conv3Filters: 8, fc1Units: 16, fc2Units: 16 };

describe('smoke training run (default architecture, 2,000 training images)', () => {
  it('reaches ≥ 85% on 1,000 test images and writes the model and a report', async () => {
    const out = tmp();
    const config = resolveTrainConfig({
      trainLimit: 2000, testLimit: 1000, valCount: 500, epochs: 2, batchSize: 64, warmupSteps: 5, augment: false,
      outDir: out, checkpointDir: join(out, 'checkpoints'),
    });
    const lines: string[] = [];
    const report = await train(config, { log: (l) => lines.push(l) });
    console.log(`smoke training: test accuracy ${(report.test.accuracy * 100).toFixed(2)}% on ${report.test.count} images, ` +
      `${report.imagesPerSecond.toFixed(1)} img/s, backend ${report.backend}, ${report.workers} workers, ${report.wallSeconds.toFixed(0)} s`);
    expect(report.test.count).toBe(1000);
    expect(report.test.accuracy).toBeGreaterThanOrEqual(0.85);
    expect(report.params).toBe(25_927_246);
    expect(report.epochs).toHaveLength(2);
    expect(report.temperature).toBeGreaterThan(0);
    expect(existsSync(join(out, 'model', 'model.json'))).toBe(true);
    expect(lines.some((l) => /^backend: (wasm|tensorflow)/.test(l))).toBe(true);
  }, 900_000);
});

describe('checkpoints, resume and failure modes (tiny configuration)', () => {
  const base = { model: TINY, trainLimit: 256, valCount: 128, testLimit: 128, epochs: 2, batchSize: 32, warmupSteps: 2, learningRate: 3e-3 };

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
  }, 600_000);

  it('refuses --resume without a checkpoint (TRAIN_CHECKPOINT_MISSING)', async () => {
    const c = tmp();
    await expect(train(resolveTrainConfig({ ...base, outDir: c, checkpointDir: join(c, 'ckpt'), resume: true })))
      .rejects.toMatchObject({ code: 'TRAIN_CHECKPOINT_MISSING' });
  }, 120_000);

  it('stops with TRAIN_NON_FINITE_LOSS when the loss blows up', async () => {
    const d = tmp();
    await expect(train(resolveTrainConfig({ ...base, learningRate: 1e38, warmupSteps: 1, outDir: d, checkpointDir: join(d, 'ckpt') })))
      .rejects.toMatchObject({ code: 'TRAIN_NON_FINITE_LOSS', message: expect.stringMatching(/loss became (NaN|Infinity)/) });
  }, 300_000);

  it('rejects unknown options (misuse)', () => {
    expect(() => resolveTrainConfig({ epochz: 3 } as never)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});
