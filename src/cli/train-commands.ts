import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { CommandModule } from 'yargs';
import { loadMnist } from '../data/mnist';
import { MNIST_KEYS, resolveMnistFile } from '../data/sources';
import type { BackendChoice } from '../backend/select-backend';
import { resolveTrainConfig, TRAIN_DEFAULTS } from '../train/config';
import { OUTLIER_MARK_DEFAULTS } from '../data/outliers';
import { evaluateSavedModel } from '../train/evaluate-model';
import { writeTrainingReport } from '../train/report-plots';
import { createProgress } from './progress';

const dataOptions = {
  'data-dir': { type: 'string', describe: 'directory with the four uncompressed MNIST IDX files (env MNIST_DIR)' },
  'download-url': { type: 'string', describe: 'base URL of the gzipped MNIST files, used when no local copy exists' },
} as const;

function dataFrom(argv: { 'data-dir'?: string; 'download-url'?: string }) {
  return { dir: argv['data-dir'] ?? process.env.MNIST_DIR, downloadBaseUrl: argv['download-url'] };
}

export const dataCommand: CommandModule<object, { 'data-dir'?: string; 'download-url'?: string }> = {
  command: 'data',
  describe: 'find, verify (sha256) and cache the MNIST files',
  builder: (y) => y.options(dataOptions),
  handler: async (argv) => {
    const opts = { cacheDir: join(process.cwd(), 'data'), usePackage: true, ...dataFrom(argv) };
    for (const key of MNIST_KEYS) {
      const f = await resolveMnistFile(key, opts);
      console.log(`${f.path}  ${f.sha256}  ok (${f.source})`);
    }
  },
};

interface TrainArgs {
  epochs: number; 'batch-size': number; lr: number; seed: number; 'val-count': number; 'train-limit': number; 'test-limit': number;
  augment: boolean; patience: number; workers: number; backend: string; out: string; checkpoints: string; resume: boolean;
  'max-steps': number; 'data-dir'?: string; 'download-url'?: string; dropout: number; 'warmup-steps': number; seeds?: number[];
  'outlier-marks': string; 'marks-per-step': number; 'pairs-per-step': number; 'outlier-weight': number; 'ema-decay': number; 'label-smoothing': number;
}

export const trainCommand: CommandModule<object, TrainArgs> = {
  command: 'train',
  describe: 'train the branched CNN and write artifacts/model and artifacts/training-report.json',
  builder: (y) => y.options({
    ...dataOptions,
    epochs: { type: 'number', default: TRAIN_DEFAULTS.epochs, describe: 'passes over the training images' },
    'batch-size': { type: 'number', default: TRAIN_DEFAULTS.batchSize, describe: 'images per step, split over the workers' },
    lr: { type: 'number', default: TRAIN_DEFAULTS.learningRate, describe: 'peak Adam learning rate (warm-up, then cosine)' },
    'warmup-steps': { type: 'number', default: TRAIN_DEFAULTS.warmupSteps, describe: 'linear warm-up steps' },
    seed: { type: 'number', default: TRAIN_DEFAULTS.seed, describe: 'seed of weights, split, order and augmentation' },
    'val-count': { type: 'number', default: TRAIN_DEFAULTS.valCount, describe: 'validation images held out of the 60k' },
    'train-limit': { type: 'number', default: 0, describe: 'train on this many images only (0 = all)' },
    'test-limit': { type: 'number', default: 0, describe: 'evaluate on this many test images only (0 = all)' },
    augment: { type: 'boolean', default: true, describe: 'on-the-fly augmentation (--no-augment turns it off)' },
    dropout: { type: 'number', default: TRAIN_DEFAULTS.model.dropout, describe: 'dropout rate between the dense layers' },
    patience: { type: 'number', default: TRAIN_DEFAULTS.patience, describe: 'early-stopping patience in epochs' },
    workers: { type: 'number', default: 0, describe: 'data-parallel worker threads (0 = one per core on wasm)' },
    backend: { choices: ['auto', 'tensorflow', 'wasm', 'cpu'], default: 'auto', describe: 'tfjs backend' },
    out: { type: 'string', default: TRAIN_DEFAULTS.outDir, describe: 'output directory' },
    checkpoints: { type: 'string', default: TRAIN_DEFAULTS.checkpointDir, describe: 'checkpoint directory' },
    resume: { type: 'boolean', default: false, describe: 'continue from the last checkpoint' },
    'max-steps': { type: 'number', default: 0, describe: 'stop after this many steps (0 = no limit)' },
    seeds: { type: 'array', number: true, describe: 'train the recipe once per seed (into OUT/seeds/SEED) and ship the best by validation accuracy' },
    'outlier-marks': { type: 'string', default: TRAIN_DEFAULTS.outlierMarks, describe: 'non-digit marks for outlier exposure (make outlier-marks writes them)' },
    'marks-per-step': { type: 'number', default: TRAIN_DEFAULTS.marksPerStep, describe: 'non-digit marks added to each step (target: 1/10 each class)' },
    'pairs-per-step': { type: 'number', default: TRAIN_DEFAULTS.pairsPerStep, describe: 'touching pairs of training digits squeezed into one box, added to each step' },
    'outlier-weight': { type: 'number', default: TRAIN_DEFAULTS.outlierWeight, describe: 'weight of the outliers\' mean loss (0 = no outlier exposure)' },
    'label-smoothing': { type: 'number', default: TRAIN_DEFAULTS.labelSmoothing, describe: 'share of each digit\'s target spread evenly over the ten classes (0 = one-hot)' },
    'ema-decay': { type: 'number', default: TRAIN_DEFAULTS.emaDecay, describe: 'keep a moving average of the weights with this decay per step, and validate and ship it (0 = none)' },
  }),
  handler: async (argv) => {
    const config = resolveTrainConfig({
      epochs: argv.epochs, batchSize: argv['batch-size'], learningRate: argv.lr, warmupSteps: argv['warmup-steps'], seed: argv.seed,
      valCount: argv['val-count'], trainLimit: argv['train-limit'], testLimit: argv['test-limit'], augment: argv.augment,
      patience: argv.patience, workers: argv.workers, backend: argv.backend as BackendChoice, outDir: argv.out,
      checkpointDir: argv.checkpoints, resume: argv.resume, maxSteps: argv['max-steps'], model: { dropout: argv.dropout },
      outlierMarks: argv['outlier-marks'], marksPerStep: argv['marks-per-step'], pairsPerStep: argv['pairs-per-step'], outlierWeight: argv['outlier-weight'],
      emaDecay: argv['ema-decay'], labelSmoothing: argv['label-smoothing'],
    });
    const controller = new AbortController();
    const onSignal = () => {
      if (controller.signal.aborted) process.exit(130);
      console.error('\ninterrupt: finishing the current step and writing a checkpoint (Ctrl-C again to quit at once)');
      controller.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
    const { train } = await import('../train/trainer'); // TensorFlow.js loads here, not when the CLI starts
    const hooks = { log, progress: createProgress(), signal: controller.signal, data: dataFrom(argv) };
    const { trainSeeds } = await import('../train/seeds');
    const report = argv.seeds?.length ? await trainSeeds(config, argv.seeds, hooks, train) : await train(config, hooks);
    writeTrainingReport(report, config.outDir);
    log(`test accuracy ${(report.test.accuracy * 100).toFixed(2)}% (${report.test.count} images); report in ${join(config.outDir, 'training-report.json')}`);
  },
};

export const reportCommand: CommandModule<object, { report: string; out: string }> = {
  command: 'report',
  describe: 'redraw the pictures of a training report',
  builder: (y) => y.options({
    report: { type: 'string', default: 'artifacts/training-report.json', describe: 'training report JSON' },
    out: { type: 'string', default: 'artifacts', describe: 'output directory' },
  }),
  handler: (argv) => writeTrainingReport(JSON.parse(readFileSync(argv.report, 'utf8')), argv.out),
};

export const evaluateCommand: CommandModule<object, { model: string; backend: string; 'min-accuracy': number; 'data-dir'?: string; 'download-url'?: string }> = {
  command: 'evaluate',
  describe: 'evaluate a saved model (tfjs directory or .onnx file) on the 10k test set',
  builder: (y) => y.options({
    ...dataOptions,
    model: { type: 'string', default: 'artifacts/model', describe: 'tfjs model directory or ONNX file' },
    backend: { choices: ['auto', 'tensorflow', 'wasm', 'cpu'], default: 'auto', describe: 'tfjs backend (tfjs models)' },
    'min-accuracy': { type: 'number', default: 0, describe: 'exit 1 when the test accuracy is below this (CI gates the shipped model with it)' },
  }),
  handler: async (argv) => {
    const { test } = await loadMnist(dataFrom(argv));
    const { evaluation: ev, calibratedEce, imagesPerSecond } = await evaluateSavedModel(argv.model, test, argv.backend as BackendChoice, (m) => console.log(m));
    console.log(`accuracy ${(ev.accuracy * 100).toFixed(2)}% on ${ev.count} test images, ${imagesPerSecond.toFixed(0)} images/s`);
    console.log(`per-class accuracy: ${ev.perClassAccuracy.map((a, i) => `${i}:${(a * 100).toFixed(1)}`).join(' ')}`);
    console.log(`ECE (15 bins): ${calibratedEce === undefined ? '' : `${calibratedEce.toFixed(4)} of the model's calibrated probabilities, `}${ev.ece.toFixed(4)} of softmax(logits)`);
    console.log('confusion matrix (rows true, columns predicted):');
    console.log(`     ${ev.confusion.map((_, d) => String(d).padStart(5)).join('')}`);
    ev.confusion.forEach((row, i) => console.log(`  ${i}: ${row.map((v) => String(v).padStart(5)).join('')}`));
    if (ev.accuracy < argv['min-accuracy']) {
      console.error(`accuracy ${(ev.accuracy * 100).toFixed(2)}% is below the floor of ${(argv['min-accuracy'] * 100).toFixed(2)}%`);
      process.exitCode = 1;
    }
  },
};

export const benchTrainCommand: CommandModule<object, { steps: number; 'batch-size': number; workers: number; backend: string; profile: boolean }> = {
  command: 'bench-train',
  describe: 'measure training throughput (images/s) at a batch size and worker count',
  builder: (y) => y.options({
    steps: { type: 'number', default: 12, describe: 'timed steps (after warm-up)' },
    'batch-size': { type: 'number', default: TRAIN_DEFAULTS.batchSize, describe: 'images per step' },
    workers: { type: 'number', default: 0, describe: 'worker threads (0 = one per core on wasm)' },
    backend: { choices: ['auto', 'tensorflow', 'wasm', 'cpu'], default: 'auto', describe: 'tfjs backend' },
    profile: { type: 'boolean', default: false, describe: "instead: kernel time of one replica's step (batch ÷ workers images) per part of the network" },
  }),
  handler: async (argv) => {
    if (argv.profile) {
      const { profileStep } = await import('../train/profile-step');
      const batch = Math.ceil(argv['batch-size'] / Math.max(1, argv.workers || 2));
      const { backend, stepMs, parts } = await profileStep(batch, argv.backend as BackendChoice);
      console.log(`backend ${backend}: one replica step of ${batch} images, ${stepMs.toFixed(0)} ms with profiling`);
      for (const p of parts) console.log(`${p.ms.toFixed(1).padStart(8)} ms  ${String(p.kernels).padStart(3)} kernels  ${p.part}`);
      console.log(`${parts.reduce((s, p) => s + p.ms, 0).toFixed(1).padStart(8)} ms  in all`);
      return;
    }
    const config = resolveTrainConfig({
      epochs: 1, batchSize: argv['batch-size'], workers: argv.workers, backend: argv.backend as BackendChoice, maxSteps: argv.steps,
      outDir: join(tmpdir(), 'mnist-bench-train'), checkpointDir: join(tmpdir(), 'mnist-bench-train', 'checkpoints'), testLimit: 500, valCount: 500, warmupSteps: 1,
    });
    const { train } = await import('../train/trainer');
    const report = await train(config, { log: (l) => console.log(l) });
    const result = { batchSize: config.batchSize, workers: report.workers, backend: report.backend, steps: argv.steps, imagesPerSecond: report.imagesPerSecond };
    console.log(JSON.stringify(result));
  },
};

interface OutlierMarkArgs { out: string; 'per-family': number; seed: number }

export const outlierMarksCommand: CommandModule<object, OutlierMarkArgs> = {
  command: 'outlier-marks',
  describe: 'render the tuned non-digit families as uploads and cut them out as the server does: the marks of outlier exposure in training',
  builder: (y) => y.options({
    out: { type: 'string', default: TRAIN_DEFAULTS.outlierMarks, describe: 'file to write' },
    'per-family': { type: 'number', default: OUTLIER_MARK_DEFAULTS.perFamily, describe: 'uploads per tuned family' },
    seed: { type: 'number', default: OUTLIER_MARK_DEFAULTS.seed, describe: 'seed of the uploads (not 1, 2 or 100: those are evaluated or fitted on)' },
  }),
  handler: async (argv) => {
    const { writeOutlierMarks } = await import('../train/outlier-marks');
    const count = await writeOutlierMarks(argv.out, { perFamily: argv['per-family'], seed: argv.seed }, (m) => console.error(m));
    console.log(`wrote ${count} marks to ${argv.out}`);
  },
};
