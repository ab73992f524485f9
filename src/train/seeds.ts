import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../errors';
import type { TrainConfig } from './config';
import { writeTrainingReport } from './report-plots';
import type { TrainHooks, TrainingReport } from './trainer';

/** One seed of a recipe: what `training-report.json`'s `seeds` lists. */
export interface SeedResult {
  seed: number;
  valAccuracy: number;
  valLoss: number;
  testAccuracy: number;
  bestEpoch: number;
  wallSeconds: number;
  imagesPerSecond: number;
}

/**
 * Trains the same recipe once per seed, each into `<outDir>/seeds/<seed>/` with its own checkpoints, and
 * ships the seed with the best validation accuracy (lower validation loss breaks a tie): its model is
 * copied to `<outDir>/model` and its report, with the `seeds` list added, returned. The test accuracy of
 * every seed is reported but never chooses. A seed whose report already exists is not trained again,
 * so a long run interrupted between seeds continues where it stopped (`--resume` continues the seed in
 * progress from its checkpoint).
 */
export async function trainSeeds(config: TrainConfig, seeds: number[], hooks: TrainHooks,
  trainOne: (config: TrainConfig, hooks: TrainHooks) => Promise<TrainingReport>): Promise<TrainingReport> {
  const log = hooks.log ?? (() => {});
  const reports: TrainingReport[] = [];
  for (const seed of seeds) {
    const outDir = join(config.outDir, 'seeds', String(seed));
    const checkpointDir = join(config.checkpointDir, `seed-${seed}`);
    const reportPath = join(outDir, 'training-report.json');
    if (existsSync(reportPath) && existsSync(join(outDir, 'model'))) {
      log(`seed ${seed}: already trained (${reportPath})`);
      reports.push(JSON.parse(readFileSync(reportPath, 'utf8')) as TrainingReport);
      continue;
    }
    log(`seed ${seed}: training into ${outDir}`);
    const resume = config.resume && existsSync(join(checkpointDir, 'last', 'state.json'));
    const report = await trainOne({ ...config, seed, outDir, checkpointDir, resume }, hooks);
    writeTrainingReport(report, outDir);
    reports.push(report);
    if (report.interrupted) throw new AppError('TRAIN_INTERRUPTED', `seed ${seed} was interrupted; its checkpoint is in ${checkpointDir}: run again with --resume to continue`);
  }
  const results: SeedResult[] = reports.map((r) => ({
    seed: r.config.seed, valAccuracy: r.val.accuracy, valLoss: r.val.loss, testAccuracy: r.test.accuracy,
    bestEpoch: r.bestEpoch, wallSeconds: r.wallSeconds, imagesPerSecond: r.imagesPerSecond,
  }));
  const best = reports.reduce((a, b) => (b.val.accuracy > a.val.accuracy || (b.val.accuracy === a.val.accuracy && b.val.loss < a.val.loss) ? b : a));
  const modelDir = join(config.outDir, 'model');
  rmSync(modelDir, { recursive: true, force: true });
  cpSync(join(config.outDir, 'seeds', String(best.config.seed), 'model'), modelDir, { recursive: true });
  for (const r of results) {
    log(`seed ${r.seed}: validation ${(r.valAccuracy * 100).toFixed(2)}% (loss ${r.valLoss.toFixed(4)}), test ${(r.testAccuracy * 100).toFixed(2)}%${r.seed === best.config.seed ? '  ← shipped (best validation accuracy)' : ''}`);
  }
  return { ...best, seeds: results };
}
