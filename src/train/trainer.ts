import { cpus } from 'node:os';
import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync, renameSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../errors';
import { loadMnist, LoadMnistOptions, Mnist, NUM_CLASSES, PIXELS, stratifiedSplit } from '../data/mnist';
import { createRng, shuffleInPlace } from '../data/rng';
import { AUGMENT_DEFAULTS } from '../data/augment';
import { readOutlierMarks } from '../data/outliers';
import { DEFAULT_PARAM_COUNT } from '../model/create-model';
import { tfjsNodeAvailable } from '../backend/select-backend';
import { emaDecayAt, learningRateAt } from './schedule';
import type { SeedResult } from './seeds';
import { evaluateLogits, Evaluation } from '../metrics/classification';
import { fitTemperature } from './calibration';
import { ReplicaPool, startReplicas } from './replica-pool';
import { TrainConfig } from './config';
import type { SharedState } from './protocol';

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  /** The outliers' mean loss against a uniform target (log 10 ≈ 2.303 is the least it can be); absent without outliers. */
  outlierLoss?: number;
  trainAccuracy: number;
  valLoss: number;
  valAccuracy: number;
  /** With a moving average of the weights, val* are the average's and these the trained weights' own. */
  liveValLoss?: number;
  liveValAccuracy?: number;
  /**
   * With label smoothing: the validation loss after a temperature fitted on the same logits, which
   * early stopping and the best epoch then go by (a smoothed model is underconfident by design, so
   * its raw loss is lowest in the first epoch whatever its accuracy).
   */
  calibratedValLoss?: number;
  learningRate: number;
  seconds: number;
  imagesPerSecond: number;
}

export interface StepProgress {
  epoch: number;
  epochs: number;
  step: number;
  stepsPerEpoch: number;
  loss: number;
  accuracy: number;
  imagesPerSecond: number;
  etaSeconds: number;
}

export interface TrainingReport {
  config: TrainConfig;
  backend: string;
  workers: number;
  params: number;
  data: { sha256: Record<string, string>; sources: Record<string, string>; trainCount: number; valCount: number; testCount: number };
  epochs: EpochRecord[];
  stepLosses: number[];
  bestEpoch: number;
  stoppedEarly: boolean;
  interrupted: boolean;
  wallSeconds: number;
  imagesPerSecond: number;
  temperature: number;
  val: { accuracy: number; loss: number; eceBefore: number; eceAfter: number; nllBefore: number; nllAfter: number };
  test: Evaluation & { eceBefore: number; eceAfter: number };
  date: string;
  /** Every seed of the recipe when it was trained with several (`make train-seeds`); this report is the shipped one's. */
  seeds?: SeedResult[];
}

interface CheckpointState {
  epoch: number; // epoch being trained (0-based)
  stepInEpoch: number; // next step to run in that epoch
  globalStep: number;
  history: EpochRecord[];
  stepLosses: number[];
  bestValLoss: number;
  bestEpoch: number;
  badEpochs: number;
  trainedSeconds: number;
  trainedImages: number;
}

export interface TrainHooks {
  log?: (line: string) => void;
  progress?: (p: StepProgress) => void;
  /** Aborting stops after the current step, writes a checkpoint and returns the partial report. */
  signal?: AbortSignal;
  data?: LoadMnistOptions;
}

/**
 * Early stopping on validation loss: records an improvement (the caller keeps those weights) or counts
 * an epoch without one; `stop` once `patience` epochs in a row did not improve.
 */
export function earlyStopping(state: { bestValLoss: number; bestEpoch: number; badEpochs: number }, valLoss: number, epoch: number, patience: number): { improved: boolean; stop: boolean } {
  if (valLoss < state.bestValLoss) {
    state.bestValLoss = valLoss;
    state.bestEpoch = epoch;
    state.badEpochs = 0;
    return { improved: true, stop: false };
  }
  state.badEpochs++;
  return { improved: false, stop: state.badEpochs >= patience };
}

function shared(bytes: Uint8Array): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(bytes.byteLength);
  new Uint8Array(sab).set(bytes);
  return sab;
}

/**
 * The outliers of step `step`: marks drawn from the file, and pairs of the run's training images (2
 * entries each), from a generator of their own so that the digits' order is the same with or without
 * them; a resumed run draws the same.
 */
function outliersOf(run: Run, step: number): { marks: Int32Array; pairs: Int32Array } {
  const { config, markCount, trainIdx } = run;
  if (!run.exposure) return { marks: new Int32Array(0), pairs: new Int32Array(0) };
  const rng = createRng((config.seed * 2_246_822_519 + step * 3_266_489_917 + 17) >>> 0);
  const marks = Int32Array.from({ length: markCount > 0 ? config.marksPerStep : 0 }, () => rng.int(markCount));
  const pairs = Int32Array.from({ length: 2 * config.pairsPerStep }, () => trainIdx[rng.int(trainIdx.length)]);
  return { marks, pairs };
}

/**
 * `indices` in `n` consecutive parts of whole units (a pair is 2 entries); empty parts are dropped
 * unless `keepEmpty`, which keeps one part per worker.
 */
function splitAmong(indices: Int32Array, n: number, keepEmpty = false, unit = 1): Int32Array[] {
  const parts: Int32Array[] = [];
  const per = Math.ceil(indices.length / unit / n) * unit;
  for (let i = 0; i < n; i++) parts.push(indices.slice(i * per, Math.min(indices.length, (i + 1) * per)));
  return keepEmpty ? parts : parts.filter((p) => p.length > 0);
}

async function logitsOf(replicas: ReplicaPool, set: 'train' | 'test', indices: Int32Array): Promise<Float32Array> {
  const parts = splitAmong(indices, replicas.size);
  const answers = await Promise.all(parts.map((p, i) => replicas.runOn(i, 'logits', { set, indices: p })));
  const out = new Float32Array(indices.length * NUM_CLASSES);
  let off = 0;
  for (const a of answers) { out.set(a.logits, off); off += a.logits.length; }
  return out;
}

function writeAtomic(path: string, data: string | Uint8Array): void {
  writeFileSync(`${path}.tmp`, data);
  renameSync(`${path}.tmp`, path);
}

function writeJson(path: string, value: unknown): void {
  writeAtomic(path, JSON.stringify(value, null, 2));
}

function readInto(path: string, target: SharedArrayBuffer): void {
  const bytes = readFileSync(path);
  if (bytes.byteLength !== target.byteLength) {
    throw new AppError('TRAIN_CHECKPOINT_MISMATCH', `${path} has ${bytes.byteLength} bytes, expected ${target.byteLength}: not a checkpoint of this model`);
  }
  new Uint8Array(target).set(bytes);
}

/** Everything one training run holds between its steps. */
interface Run {
  config: TrainConfig;
  log: (line: string) => void;
  started: number;
  mnist: Mnist;
  trainIdx: Int32Array;
  valIdx: Int32Array;
  testIdx: Int32Array;
  /** How many outlier marks the run draws from (0: none). */
  markCount: number;
  /** Whether the run trains on outliers at all (a weight, and marks or pairs to draw). */
  exposure: boolean;
  replicas: ReplicaPool;
  backend: string;
  numParams: number;
  sharedState: SharedState;
  state: CheckpointState;
  lastDir: string;
  bestDir: string;
  stepsPerEpoch: number;
  totalSteps: number;
}

/**
 * Data split, replicas started on shared memory, and the starting point: a fresh model, or the last
 * checkpoint with --resume; every replica then holds replica 0's weights.
 */
async function prepareRun(config: TrainConfig, hooks: TrainHooks): Promise<Run> {
  const log = hooks.log ?? (() => {});
  const started = Date.now();
  const mnist = await loadMnist(hooks.data);
  const split = stratifiedSplit(mnist.train.labels, config.valCount, config.seed);
  let trainIdx = Int32Array.from(split.train);
  if (config.trainLimit > 0) {
    const pick = Array.from(trainIdx);
    shuffleInPlace(pick, createRng(config.seed + 1));
    trainIdx = Int32Array.from(pick.slice(0, config.trainLimit)).sort();
  }
  const valIdx = Int32Array.from(split.val);
  const testCount = config.testLimit > 0 ? Math.min(config.testLimit, mnist.test.count) : mnist.test.count;
  const testIdx = Int32Array.from({ length: testCount }, (_, i) => i);
  log(`data: ${trainIdx.length} train, ${valIdx.length} validation, ${testCount} test (${Object.values(mnist.sources).join(', ')})`);

  const marks = config.outlierWeight > 0 && config.marksPerStep > 0 ? readOutlierMarks(config.outlierMarks) : new Uint8Array(0);
  const markCount = marks.length / PIXELS;
  const exposure = config.outlierWeight > 0 && (markCount > 0 || config.pairsPerStep > 0);
  if (exposure) {
    log(`outlier exposure: ${config.marksPerStep} of ${markCount} marks and ${config.pairsPerStep} pairs of training digits per step, weight ${config.outlierWeight}`);
  }

  const wantNode = config.backend === 'tensorflow' || (config.backend === 'auto' && tfjsNodeAvailable());
  const numWorkers = config.workers > 0 ? config.workers : wantNode ? 1 : Math.max(1, cpus().length);
  // The parameter count is known only once a replica has built the model: build one first.
  const base = {
    backend: config.backend, modelConfig: config.model, augment: config.augment ? AUGMENT_DEFAULTS : null,
    seed: config.seed, trainImages: shared(mnist.train.images), trainLabels: shared(mnist.train.labels), testImages: shared(mnist.test.images),
    outlierMarks: shared(marks), outlierWeight: config.outlierWeight, labelSmoothing: config.labelSmoothing,
  };
  const probe = await startReplicas(1, { ...base, shared: null });
  const numParams = probe.ready.numParams;
  await probe.pool.close();
  const bytes = numParams * 4;
  const sharedState: SharedState = {
    numParams, gradSlots: new SharedArrayBuffer(numWorkers * bytes), weights: new SharedArrayBuffer(bytes),
    adamM: new SharedArrayBuffer(bytes), adamV: new SharedArrayBuffer(bytes),
    ema: new SharedArrayBuffer(config.emaDecay > 0 ? bytes : 0),
  };
  const { pool: replicas, ready } = await startReplicas(numWorkers, { ...base, shared: sharedState });
  log(`backend: ${ready.backend}, ${numWorkers} replica worker(s), ${numParams.toLocaleString('en-US')} parameters${numParams === DEFAULT_PARAM_COUNT ? ' (the spec\'s default)' : ''}`);

  const stepsPerEpoch = Math.max(1, Math.floor(trainIdx.length / config.batchSize));
  const run: Run = {
    config, log, started, mnist, trainIdx, valIdx, testIdx, markCount, exposure, replicas, backend: ready.backend, numParams, sharedState,
    state: {
      epoch: 0, stepInEpoch: 0, globalStep: 0, history: [], stepLosses: [], bestValLoss: Infinity, bestEpoch: -1, badEpochs: 0,
      trainedSeconds: 0, trainedImages: 0,
    },
    lastDir: join(config.checkpointDir, 'last'), bestDir: join(config.checkpointDir, 'best'),
    stepsPerEpoch, totalSteps: stepsPerEpoch * config.epochs,
  };
  try {
    if (config.resume) {
      const statePath = join(run.lastDir, 'state.json');
      if (!existsSync(statePath)) throw new AppError('TRAIN_CHECKPOINT_MISSING', `--resume given but no checkpoint at ${statePath}`);
      run.state = JSON.parse(readFileSync(statePath, 'utf8'));
      if (!Number.isFinite(run.state.bestValLoss)) run.state.bestValLoss = Infinity;
      await replicas.runOn(0, 'load', { dir: run.lastDir });
      readInto(join(run.lastDir, 'adam-m.bin'), sharedState.adamM);
      readInto(join(run.lastDir, 'adam-v.bin'), sharedState.adamV);
      if (config.emaDecay > 0) readInto(join(run.lastDir, 'ema.bin'), sharedState.ema);
      log(`resumed from ${run.lastDir}: epoch ${run.state.epoch + 1}, step ${run.state.stepInEpoch}`);
    }
    // Every replica starts from replica 0's weights.
    await replicas.runOn(0, 'push', {});
    await Promise.all(Array.from({ length: replicas.size - 1 }, (_, i) => replicas.runOn(i + 1, 'pull', {})));
    if (config.emaDecay > 0 && !config.resume) new Float32Array(sharedState.ema).set(new Float32Array(sharedState.weights));
  } catch (err) {
    await replicas.close();
    throw err;
  }
  return run;
}

/** The last checkpoint: weights, Adam's moments and the run's state, each file replaced atomically. */
async function saveLast(run: Run): Promise<void> {
  const { lastDir, sharedState, state } = run;
  mkdirSync(lastDir, { recursive: true });
  await run.replicas.runOn(0, 'save', { dir: lastDir });
  writeAtomic(join(lastDir, 'adam-m.bin'), new Uint8Array(sharedState.adamM));
  writeAtomic(join(lastDir, 'adam-v.bin'), new Uint8Array(sharedState.adamV));
  if (sharedState.ema.byteLength > 0) writeAtomic(join(lastDir, 'ema.bin'), new Uint8Array(sharedState.ema));
  writeJson(join(lastDir, 'state.json'), { ...state, bestValLoss: Number.isFinite(state.bestValLoss) ? state.bestValLoss : null });
}

/**
 * One epoch (or what is left of it after a resume): the steps, then validation, early stopping and the
 * checkpoints. 'interrupted' when the signal or maxSteps stopped it between two steps.
 */
async function trainEpoch(run: Run, hooks: TrainHooks): Promise<'continue' | 'interrupted' | 'stopped-early'> {
  const { config, replicas, sharedState, state, mnist, valIdx, stepsPerEpoch, totalSteps, numParams } = run;
  const bytes = numParams * 4;
  const order = Array.from(run.trainIdx);
  shuffleInPlace(order, createRng(config.seed * 7 + state.epoch));
  const epochStart = Date.now();
  let epochImages = 0;
  let lossSum = 0;
  let outlierLossSum = 0;
  let correctSum = 0;
  for (let s = state.stepInEpoch; s < stepsPerEpoch; s++) {
    if (hooks.signal?.aborted || (config.maxSteps > 0 && state.globalStep >= config.maxSteps)) return 'interrupted';
    const t0 = Date.now();
    const batch = Int32Array.from(order.slice(s * config.batchSize, (s + 1) * config.batchSize));
    const parts = splitAmong(batch, replicas.size);
    const outliers = outliersOf(run, state.globalStep);
    const markParts = splitAmong(outliers.marks, parts.length, true);
    const pairParts = splitAmong(outliers.pairs, parts.length, true, 2);
    const lr = learningRateAt(state.globalStep, totalSteps, config.learningRate, config.warmupSteps);
    const answers = await Promise.all(parts.map((p, i) => replicas.runOn(i, 'step', {
      indices: p, marks: markParts[i], pairs: pairParts[i], step: state.globalStep,
    })));
    const loss = answers.reduce((a, r) => a + r.loss * r.count, 0) / batch.length;
    const outlierLoss = answers.reduce((a, r) => a + r.outlierLoss * r.outliers, 0) / Math.max(1, answers.reduce((a, r) => a + r.outliers, 0));
    const correct = answers.reduce((a, r) => a + r.correct, 0);
    if (!Number.isFinite(loss)) {
      throw new AppError('TRAIN_NON_FINITE_LOSS', `loss became ${loss} at epoch ${state.epoch + 1} step ${s + 1} (learning rate ${lr.toExponential(2)}); lower --lr or check the data`);
    }
    // Each slot holds its worker's mean gradient; weight it by its share. A worker with no share
    // this step (tiny batch) must not leave an old gradient behind.
    const scales = Array.from({ length: replicas.size }, (_, w) => (w < parts.length ? parts[w].length / batch.length : 0));
    for (let w = parts.length; w < replicas.size; w++) new Float32Array(sharedState.gradSlots, w * bytes, numParams).fill(0);
    await replicas.broadcast('update', { lr, t: state.globalStep + 1, scales, emaDecay: emaDecayAt(state.globalStep, config.emaDecay) });
    await replicas.broadcast('pull', {});
    state.globalStep++;
    state.stepInEpoch = s + 1;
    state.stepLosses.push(Number(loss.toFixed(5)));
    epochImages += batch.length;
    lossSum += loss * batch.length;
    outlierLossSum += outlierLoss * batch.length;
    correctSum += correct;
    state.trainedImages += batch.length;
    state.trainedSeconds += (Date.now() - t0) / 1000;
    const ips = state.trainedImages / Math.max(1e-9, state.trainedSeconds);
    hooks.progress?.({
      epoch: state.epoch + 1, epochs: config.epochs, step: s + 1, stepsPerEpoch, loss, accuracy: correct / batch.length,
      imagesPerSecond: ips, etaSeconds: ((totalSteps - state.globalStep) * config.batchSize) / ips,
    });
  }
  const valLabels = Array.from(valIdx, (i) => mnist.train.labels[i]);
  // With an average, the trained weights are measured too; the average is what is validated, kept and shipped.
  const live = config.emaDecay > 0 ? evaluateLogits(await logitsOf(replicas, 'train', valIdx), valLabels) : null;
  if (live) await replicas.broadcast('pull', { from: 'ema' });
  const valLogits = await logitsOf(replicas, 'train', valIdx);
  const val = evaluateLogits(valLogits, valLabels);
  const calibrated = config.labelSmoothing > 0 ? evaluateLogits(valLogits, valLabels, fitTemperature(valLogits, valLabels)).loss : null;
  const seconds = (Date.now() - epochStart) / 1000;
  const record: EpochRecord = {
    epoch: state.epoch + 1, trainLoss: lossSum / Math.max(1, epochImages),
    ...(run.exposure ? { outlierLoss: outlierLossSum / Math.max(1, epochImages) } : {}),
    trainAccuracy: correctSum / Math.max(1, epochImages),
    valLoss: val.loss, valAccuracy: val.accuracy,
    ...(live ? { liveValLoss: live.loss, liveValAccuracy: live.accuracy } : {}),
    ...(calibrated !== null ? { calibratedValLoss: calibrated } : {}),
    learningRate: learningRateAt(state.globalStep - 1, totalSteps, config.learningRate, config.warmupSteps),
    seconds, imagesPerSecond: epochImages / seconds,
  };
  state.history.push(record);
  run.log(`epoch ${record.epoch}/${config.epochs}: train loss ${record.trainLoss.toFixed(4)}${record.outlierLoss !== undefined ? ` (outliers ${record.outlierLoss.toFixed(4)})` : ''} acc ${(record.trainAccuracy * 100).toFixed(2)}% | val loss ${val.loss.toFixed(4)} acc ${(val.accuracy * 100).toFixed(2)}%${calibrated !== null ? ` (loss at a fitted temperature ${calibrated.toFixed(4)})` : ''}${live ? ` (average of the weights; trained weights: val loss ${live.loss.toFixed(4)} acc ${(live.accuracy * 100).toFixed(2)}%)` : ''} | ${seconds.toFixed(0)} s, ${record.imagesPerSecond.toFixed(1)} img/s`);
  const verdict = earlyStopping(state, calibrated ?? val.loss, record.epoch, config.patience);
  if (verdict.improved) await replicas.runOn(0, 'save', { dir: run.bestDir });
  if (verdict.stop) {
    run.log(`early stopping: validation loss has not improved for ${state.badEpochs} epochs (best ${state.bestValLoss.toFixed(4)} at epoch ${state.bestEpoch})`);
  }
  if (live) await replicas.broadcast('pull', {}); // training goes on from the trained weights
  state.epoch++;
  state.stepInEpoch = 0;
  await saveLast(run);
  return verdict.stop ? 'stopped-early' : 'continue';
}

/**
 * After the last epoch (or an interruption): the best weights back in every replica, the temperature
 * fitted on the validation set, the test set evaluated, the model copied to outDir/model, the report.
 */
async function finishRun(run: Run, outcome: { stoppedEarly: boolean; interrupted: boolean }): Promise<TrainingReport> {
  const { config, replicas, state, mnist, valIdx, testIdx, log } = run;
  if (outcome.interrupted) {
    await saveLast(run);
    log(`stopped at epoch ${state.epoch + 1} step ${state.stepInEpoch}; checkpoint written to ${run.lastDir} (continue with --resume)`);
  }
  if (state.bestEpoch < 0) {
    // Interrupted before the first epoch ended: evaluate what we have.
    await replicas.runOn(0, 'save', { dir: run.bestDir });
  }
  await replicas.broadcast('load', { dir: run.bestDir });
  const valLabels = Array.from(valIdx, (i) => mnist.train.labels[i]);
  const valLogits = await logitsOf(replicas, 'train', valIdx);
  const temperature = fitTemperature(valLogits, valLabels);
  const valRaw = evaluateLogits(valLogits, valLabels, 1);
  const valCal = evaluateLogits(valLogits, valLabels, temperature);
  const testLabels = Array.from(testIdx, (i) => mnist.test.labels[i]);
  const testLogits = await logitsOf(replicas, 'test', testIdx);
  const testRaw = evaluateLogits(testLogits, testLabels, 1);
  const testCal = evaluateLogits(testLogits, testLabels, temperature);
  const modelDir = join(config.outDir, 'model');
  rmSync(modelDir, { recursive: true, force: true });
  mkdirSync(config.outDir, { recursive: true });
  cpSync(run.bestDir, modelDir, { recursive: true });
  writeJson(join(modelDir, 'calibration.json'), { temperature });
  log(`temperature ${temperature.toFixed(3)}: validation ECE ${valRaw.ece.toFixed(4)} → ${valCal.ece.toFixed(4)}; test accuracy ${(testRaw.accuracy * 100).toFixed(2)}%, test ECE ${testRaw.ece.toFixed(4)} → ${testCal.ece.toFixed(4)}`);
  return {
    config, backend: run.backend, workers: replicas.size, params: run.numParams,
    data: { sha256: mnist.sha256, sources: mnist.sources, trainCount: run.trainIdx.length, valCount: valIdx.length, testCount: testIdx.length },
    epochs: state.history, stepLosses: state.stepLosses, bestEpoch: state.bestEpoch, ...outcome,
    wallSeconds: (Date.now() - run.started) / 1000, imagesPerSecond: state.trainedImages / Math.max(1e-9, state.trainedSeconds),
    temperature,
    val: { accuracy: valRaw.accuracy, loss: valRaw.loss, eceBefore: valRaw.ece, eceAfter: valCal.ece, nllBefore: valRaw.loss, nllAfter: valCal.loss },
    test: { ...testCal, accuracy: testRaw.accuracy, eceBefore: testRaw.ece, eceAfter: testCal.ece },
    date: new Date().toISOString(),
  };
}

/**
 * Trains the branched CNN with data-parallel replicas on worker threads, Adam with warm-up + cosine,
 * early stopping on validation loss, a checkpoint every epoch, then fits the temperature on the
 * validation set and evaluates the best weights on the test set.
 */
export async function train(config: TrainConfig, hooks: TrainHooks = {}): Promise<TrainingReport> {
  const run = await prepareRun(config, hooks);
  try {
    let verdict: Awaited<ReturnType<typeof trainEpoch>> = 'continue';
    while (run.state.epoch < config.epochs && verdict === 'continue') verdict = await trainEpoch(run, hooks);
    return await finishRun(run, { stoppedEarly: verdict === 'stopped-early', interrupted: verdict === 'interrupted' });
  } finally {
    await run.replicas.close();
  }
}
