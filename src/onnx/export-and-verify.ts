import { execSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendChoice } from '../backend/select-backend';
import { loadMnist, PIXELS, toFloat } from '../data/mnist';
import { AppError } from '../errors';
import { evaluateLogits } from '../metrics/classification';
import { packageVersion } from '../package-info';
import { exportOnnx, INT8_LAYERS } from './export-model';
import { fileSha256, ModelCard, modelCardMarkdown } from './model-card';

/** Parity bars the export must meet before it writes anything. */
export const PARITY_LIMITS = Object.freeze({ fp32MaxAbsProbDiff: 1e-5, int8MinArgmaxAgreement: 0.99 });

export interface ExportAndVerifyOptions {
  modelDir: string; // trained tfjs model directory (with calibration.json when it was calibrated)
  outDir: string; // where the .onnx files, model-card.json and MODEL_CARD.md go; training-report.json is read from here
  name: string; // file name stem
  backend: BackendChoice; // tfjs backend for the parity check
  parityImages: number; // test images compared between tfjs and onnxruntime
  log: (line: string) => void;
  limits?: Readonly<{ fp32MaxAbsProbDiff: number; int8MinArgmaxAgreement: number }>; // the parity bars (PARITY_LIMITS unless given)
}

/** What export-and-verify reads of the training report (written by `make train`). */
interface TrainingSummary {
  config: { seed: number };
  epochs: unknown[];
  backend: string;
  workers: number;
  wallSeconds: number;
  test: { accuracy: number };
}

function sourceCommit(): string {
  try {
    return execSync('git rev-parse HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return 'unknown';
  }
}

/**
 * The release step after training: exports the tfjs model to ONNX (fp32 and int8), refuses to write
 * anything unless both agree with tfjs (PARITY_LIMITS), evaluates each file through onnxruntime on the
 * 10,000 test images, writes them with the measured accuracy in their metadata, and writes the model
 * card (JSON and Markdown).
 * @example const card = await exportAndVerify({ modelDir: 'artifacts/model', outDir: 'artifacts', name: 'mnist-cnn', backend: 'auto', parityImages: 256, log: console.log });
 */
export async function exportAndVerify(o: ExportAndVerifyOptions): Promise<ModelCard> {
  // TensorFlow.js and onnxruntime load here, not at import (the server imports neither through this module).
  const [{ selectBackend }, { loadModel }, { logitsModel }, { compareWithTfjs }, { evaluateOnnxLogits }] = await Promise.all([
    import('../backend/select-backend'), import('../model/io'), import('../model/create-model'), import('./parity'), import('./evaluate-onnx')]);
  const version = packageVersion();
  await selectBackend(o.backend, o.log);
  const model = await loadModel(o.modelDir);
  const calibration = join(o.modelDir, 'calibration.json');
  const temperature = existsSync(calibration) ? JSON.parse(readFileSync(calibration, 'utf8')).temperature as number : 1;
  const reportPath = join(o.outDir, 'training-report.json');
  const report = existsSync(reportPath) ? JSON.parse(readFileSync(reportPath, 'utf8')) as TrainingSummary : undefined;
  const mnist = await loadMnist();
  const commit = sourceCommit();
  const metadata = (variant: string, acc?: number): Record<string, string> => ({
    model_version: version,
    variant,
    test_accuracy: acc === undefined ? 'unmeasured' : acc.toFixed(4),
    temperature: temperature.toFixed(6),
    input_normalization: 'float32 [N,1,28,28], pixel / 255 in [0,1], light ink on a dark background (MNIST)',
    labels: '0,1,2,3,4,5,6,7,8,9',
    data_sha256: JSON.stringify(mnist.sha256),
    source_commit: commit,
  });

  // Parity first, on temperature-1 exports so the probabilities are comparable with tfjs predict().
  const images = toFloat(mnist.test.images.subarray(0, o.parityImages * PIXELS));
  const lm = logitsModel(model);
  const fp32Parity = await compareWithTfjs(model, lm, exportOnnx(model, { producerVersion: version }), images);
  const int8Parity = await compareWithTfjs(model, lm, exportOnnx(model, { quantize: [...INT8_LAYERS], producerVersion: version }), images);
  o.log(`parity on ${fp32Parity.count} images: fp32 max |Δp| ${fp32Parity.maxAbsProbDiff.toExponential(2)}, argmax ${fp32Parity.argmaxAgreement * 100}%;` +
    ` int8 max |Δp| ${int8Parity.maxAbsProbDiff.toExponential(2)}, argmax ${(int8Parity.argmaxAgreement * 100).toFixed(2)}%`);
  const limits = o.limits ?? PARITY_LIMITS;
  if (fp32Parity.maxAbsProbDiff > limits.fp32MaxAbsProbDiff || fp32Parity.argmaxAgreement < 1) {
    throw new AppError('ONNX_GRAPH_INVALID', `fp32 export disagrees with tfjs: max |Δp| ${fp32Parity.maxAbsProbDiff}`);
  }
  if (int8Parity.argmaxAgreement < limits.int8MinArgmaxAgreement) {
    throw new AppError('ONNX_GRAPH_INVALID', `int8 export agrees with tfjs on only ${int8Parity.argmaxAgreement * 100}% of images`);
  }

  const labels = Array.from(mnist.test.labels);
  const variants = [
    { variant: 'fp32', quantize: [] as string[], file: `${o.name}.fp32.onnx` },
    { variant: 'int8', quantize: [...INT8_LAYERS], file: `${o.name}.int8.onnx` },
  ];
  const results: Record<string, { accuracy: number; ece: number; eceRaw: number; path: string }> = {};
  for (const v of variants) {
    // Evaluate, then write with the measured accuracy in the metadata (the graph is the same).
    const bytes = exportOnnx(model, { quantize: v.quantize, temperature, producerVersion: version, metadata: metadata(v.variant) });
    const logits = await evaluateOnnxLogits(bytes, mnist.test);
    const cal = evaluateLogits(logits, labels, temperature);
    const raw = evaluateLogits(logits, labels, 1);
    const path = join(o.outDir, v.file);
    writeFileSync(path, exportOnnx(model, { quantize: v.quantize, temperature, producerVersion: version, metadata: metadata(v.variant, cal.accuracy) }));
    results[v.variant] = { accuracy: cal.accuracy, ece: cal.ece, eceRaw: raw.ece, path };
    o.log(`${path}: ${(statSync(path).size / 1e6).toFixed(1)} MB, test accuracy ${(cal.accuracy * 100).toFixed(2)}% through onnxruntime, ECE ${cal.ece.toFixed(4)}`);
  }

  const int8 = results.int8;
  const card: ModelCard = {
    name: o.name,
    modelVersion: version,
    file: variants[1].file,
    sha256: fileSha256(int8.path),
    bytes: statSync(int8.path).size,
    parameters: model.countParams(),
    testAccuracy: int8.accuracy,
    fp32TestAccuracy: results.fp32.accuracy,
    ece: int8.ece,
    eceUncalibrated: int8.eceRaw,
    temperature,
    quantizedLayers: [...INT8_LAYERS],
    parity: { images: fp32Parity.count, fp32MaxAbsProbDiff: fp32Parity.maxAbsProbDiff, int8MaxAbsProbDiff: int8Parity.maxAbsProbDiff, int8ArgmaxAgreement: int8Parity.argmaxAgreement },
    input: { name: 'image', shape: ['N', 1, 28, 28], dtype: 'float32', normalization: 'pixel / 255 in [0,1], light ink on a dark background (MNIST)' },
    outputs: [
      { name: 'probabilities', shape: ['N', 10], meaning: 'softmax(logits / temperature): calibrated probabilities of digits 0-9' },
      { name: 'logits', shape: ['N', 10], meaning: 'raw scores before the temperature' },
    ],
    labels: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    training: {
      command: 'make train', seed: report?.config.seed ?? -1, epochs: report?.epochs.length ?? -1, backend: report?.backend ?? 'unknown',
      workers: report?.workers ?? -1, wallSeconds: report?.wallSeconds ?? -1, tfjsTestAccuracy: report?.test.accuracy ?? NaN,
    },
    data: mnist.sha256,
    sourceCommit: commit,
    date: new Date().toISOString(),
  };
  writeFileSync(join(o.outDir, 'model-card.json'), `${JSON.stringify(card, null, 2)}\n`);
  writeFileSync(join(o.outDir, 'MODEL_CARD.md'), modelCardMarkdown(card));
  o.log(`model card: ${join(o.outDir, 'model-card.json')} (int8 ${(int8.accuracy * 100).toFixed(2)}% vs fp32 ${(results.fp32.accuracy * 100).toFixed(2)}%)`);
  return card;
}
