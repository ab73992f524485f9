import { cpus } from 'node:os';
import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync, renameSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../errors';
import { loadMnist, LoadMnistOptions, NUM_CLASSES, stratifiedSplit } from '../data/mnist';
import { createRng, shuffleInPlace } from '../data/rng';
import { AUGMENT_DEFAULTS } from '../data/augment';
import { DEFAULT_PARAM_COUNT } from '../model/create-model';
import { tfjsNodeAvailable } from '../backend/select-backend';
import { learningRateAt } from './schedule';
import { evaluateLogits, Evaluation } from '../metrics/classification';
import { fitTemperature } from './calibration';
import { ReplicaPool, startReplicas } from './replica-pool';
import { TrainConfig } from './config';
import type { SharedState } from './protocol';

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  valLoss: number;
  valAccuracy: number;
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

function splitAmong(indices: Int32Array, n: number): Int32Array[] {
  const parts: Int32Array[] = [];
  const per = Math.ceil(indices.length / n);
  for (let i = 0; i < n; i++) parts.push(indices.slice(i * per, Math.min(indices.length, (i + 1) * per)));
  return parts.filter((p) => p.length > 0);
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

/**
 * Trains the branched CNN with data-parallel replicas on worker threads, Adam with warm-up + cosine,
 * early stopping on validation loss, a checkpoint every epoch, then fits the temperature on the
 * validation set and evaluates the best weights on the test set.
 */
export async function train(config: TrainConfig, hooks: TrainHooks = {}): Promise<TrainingReport> {
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

  const wantNode = config.backend === 'tensorflow' || (config.backend === 'auto' && tfjsNodeAvailable());
  const numWorkers = config.workers > 0 ? config.workers : wantNode ? 1 : Math.max(1, cpus().length);
  // The parameter count is known only once a replica has built the model: build one first.
  const base = {
    backend: config.backend, modelConfig: config.model, augment: config.augment ? AUGMENT_DEFAULTS : null,
    seed: config.seed, trainImages: shared(mnist.train.images), trainLabels: shared(mnist.train.labels), testImages: shared(mnist.test.images),
  };
  const probe = await startReplicas(1, { ...base, shared: null });
  const numParams = probe.ready.numParams;
  await probe.pool.close();
  const bytes = numParams * 4;
  const sharedState: SharedState = {
    numParams, gradSlots: new SharedArrayBuffer(numWorkers * bytes), weights: new SharedArrayBuffer(bytes),
    adamM: new SharedArrayBuffer(bytes), adamV: new SharedArrayBuffer(bytes),
  };
  const { pool: replicas, ready } = await startReplicas(numWorkers, { ...base, shared: sharedState });
  log(`backend: ${ready.backend}, ${numWorkers} replica worker(s), ${numParams.toLocaleString('en-US')} parameters${numParams === DEFAULT_PARAM_COUNT ? ' (the spec\'s default)' : ''}`);

  const lastDir = join(config.checkpointDir, 'last');
  const bestDir = join(config.checkpointDir, 'best');
  let state: CheckpointState = {
    epoch: 0, stepInEpoch: 0, globalStep: 0, history: [], stepLosses: [], bestValLoss: Infinity, bestEpoch: -1, badEpochs: 0,
    trainedSeconds: 0, trainedImages: 0,
  };
  try {
    if (config.resume) {
      const statePath = join(lastDir, 'state.json');
      if (!existsSync(statePath)) throw new AppError('TRAIN_CHECKPOINT_MISSING', `--resume given but no checkpoint at ${statePath}`);
      state = JSON.parse(readFileSync(statePath, 'utf8'));
      if (!Number.isFinite(state.bestValLoss)) state.bestValLoss = Infinity;
      await replicas.runOn(0, 'load', { dir: lastDir });
      readInto(join(lastDir, 'adam-m.bin'), sharedState.adamM);
      readInto(join(lastDir, 'adam-v.bin'), sharedState.adamV);
      log(`resumed from ${lastDir}: epoch ${state.epoch + 1}, step ${state.stepInEpoch}`);
    }
    // Every replica starts from replica 0's weights.
    await replicas.runOn(0, 'push', {});
    await Promise.all(Array.from({ length: replicas.size - 1 }, (_, i) => replicas.runOn(i + 1, 'pull', {})));
    const stepsPerEpoch = Math.max(1, Math.floor(trainIdx.length / config.batchSize));
    const totalSteps = stepsPerEpoch * config.epochs;
    let interrupted = false;
    let stoppedEarly = false;

    const saveLast = async () => {
      mkdirSync(lastDir, { recursive: true });
      await replicas.runOn(0, 'save', { dir: lastDir });
      writeAtomic(join(lastDir, 'adam-m.bin'), new Uint8Array(sharedState.adamM));
      writeAtomic(join(lastDir, 'adam-v.bin'), new Uint8Array(sharedState.adamV));
      writeJson(join(lastDir, 'state.json'), { ...state, bestValLoss: Number.isFinite(state.bestValLoss) ? state.bestValLoss : null });
    };

    while (state.epoch < config.epochs && !interrupted && !stoppedEarly) {
      const order = Array.from(trainIdx);
      shuffleInPlace(order, createRng(config.seed * 7 + state.epoch));
      const epochStart = Date.now();
      let epochImages = 0;
      let lossSum = 0;
      let correctSum = 0;
      for (let s = state.stepInEpoch; s < stepsPerEpoch; s++) {
        if (hooks.signal?.aborted || (config.maxSteps > 0 && state.globalStep >= config.maxSteps)) { interrupted = true; break; }
        const t0 = Date.now();
        const batch = Int32Array.from(order.slice(s * config.batchSize, (s + 1) * config.batchSize));
        const parts = splitAmong(batch, replicas.size);
        const lr = learningRateAt(state.globalStep, totalSteps, config.learningRate, config.warmupSteps);
        const answers = await Promise.all(parts.map((p, i) =>
          replicas.runOn(i, 'step', { indices: p, step: state.globalStep })));
        const loss = answers.reduce((a, r) => a + r.loss * r.count, 0) / batch.length;
        const correct = answers.reduce((a, r) => a + r.correct, 0);
        if (!Number.isFinite(loss)) {
          throw new AppError('TRAIN_NON_FINITE_LOSS', `loss became ${loss} at epoch ${state.epoch + 1} step ${s + 1} (learning rate ${lr.toExponential(2)}); lower --lr or check the data`);
        }
        // Each slot holds its worker's mean gradient; weight it by its share. A worker with no share
        // this step (tiny batch) must not leave an old gradient behind.
        const scales = Array.from({ length: replicas.size }, (_, w) => (w < parts.length ? parts[w].length / batch.length : 0));
        for (let w = parts.length; w < replicas.size; w++) new Float32Array(sharedState.gradSlots, w * bytes, numParams).fill(0);
        await replicas.broadcast('update', { lr, t: state.globalStep + 1, scales });
        await replicas.broadcast('pull', {});
        state.globalStep++;
        state.stepInEpoch = s + 1;
        state.stepLosses.push(Number(loss.toFixed(5)));
        epochImages += batch.length;
        lossSum += loss * batch.length;
        correctSum += correct;
        state.trainedImages += batch.length;
        state.trainedSeconds += (Date.now() - t0) / 1000;
        const ips = state.trainedImages / Math.max(1e-9, state.trainedSeconds);
        hooks.progress?.({
          epoch: state.epoch + 1, epochs: config.epochs, step: s + 1, stepsPerEpoch, loss, accuracy: correct / batch.length,
          imagesPerSecond: ips, etaSeconds: ((totalSteps - state.globalStep) * config.batchSize) / ips,
        });
      }
      if (interrupted) break;
      const valLogits = await logitsOf(replicas, 'train', valIdx);
      const val = evaluateLogits(valLogits, Array.from(valIdx, (i) => mnist.train.labels[i]));
      const seconds = (Date.now() - epochStart) / 1000;
      const record: EpochRecord = {
        epoch: state.epoch + 1, trainLoss: lossSum / Math.max(1, epochImages), trainAccuracy: correctSum / Math.max(1, epochImages),
        valLoss: val.loss, valAccuracy: val.accuracy,
        learningRate: learningRateAt(state.globalStep - 1, totalSteps, config.learningRate, config.warmupSteps),
        seconds, imagesPerSecond: epochImages / seconds,
      };
      state.history.push(record);
      log(`epoch ${record.epoch}/${config.epochs}: train loss ${record.trainLoss.toFixed(4)} acc ${(record.trainAccuracy * 100).toFixed(2)}% | val loss ${val.loss.toFixed(4)} acc ${(val.accuracy * 100).toFixed(2)}% | ${seconds.toFixed(0)} s, ${record.imagesPerSecond.toFixed(1)} img/s`);
      const verdict = earlyStopping(state, val.loss, record.epoch, config.patience);
      if (verdict.improved) await replicas.runOn(0, 'save', { dir: bestDir });
      if (verdict.stop) {
        stoppedEarly = true;
        log(`early stopping: validation loss has not improved for ${state.badEpochs} epochs (best ${state.bestValLoss.toFixed(4)} at epoch ${state.bestEpoch})`);
      }
      state.epoch++;
      state.stepInEpoch = 0;
      await saveLast();
    }

    if (interrupted) {
      await saveLast();
      log(`stopped at epoch ${state.epoch + 1} step ${state.stepInEpoch}; checkpoint written to ${lastDir} (continue with --resume)`);
    }
    if (state.bestEpoch < 0) {
      // Interrupted before the first epoch ended: evaluate what we have.
      await replicas.runOn(0, 'save', { dir: bestDir });
    }
    await replicas.broadcast('load', { dir: bestDir });
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
    cpSync(bestDir, modelDir, { recursive: true });
    writeJson(join(modelDir, 'calibration.json'), { temperature });
    log(`temperature ${temperature.toFixed(3)}: validation ECE ${valRaw.ece.toFixed(4)} → ${valCal.ece.toFixed(4)}; test accuracy ${(testRaw.accuracy * 100).toFixed(2)}%, test ECE ${testRaw.ece.toFixed(4)} → ${testCal.ece.toFixed(4)}`);

    const report: TrainingReport = {
      config, backend: ready.backend, workers: numWorkers, params: numParams,
      data: { sha256: mnist.sha256, sources: mnist.sources, trainCount: trainIdx.length, valCount: valIdx.length, testCount },
      epochs: state.history, stepLosses: state.stepLosses, bestEpoch: state.bestEpoch, stoppedEarly, interrupted,
      wallSeconds: (Date.now() - started) / 1000, imagesPerSecond: state.trainedImages / Math.max(1e-9, state.trainedSeconds),
      temperature,
      val: { accuracy: valRaw.accuracy, loss: valRaw.loss, eceBefore: valRaw.ece, eceAfter: valCal.ece, nllBefore: valRaw.loss, nllAfter: valCal.loss },
      test: { ...testCal, accuracy: testRaw.accuracy, eceBefore: testRaw.ece, eceAfter: testCal.ece },
      date: new Date().toISOString(),
    };
    return report;
  } finally {
    await replicas.close();
  }
}
