import { execSync } from 'node:child_process';
import { readFileSync, writeFileSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import type { BackendChoice } from '../backend/select-backend';
import { loadMnist, PIXELS, toFloat } from '../data/mnist';
import { exportOnnx, INT8_LAYERS } from '../onnx/export-model';
import { evaluateLogits } from '../metrics/classification';
import { fileSha256, ModelCard, modelCardMarkdown } from '../onnx/model-card';
import { AppError } from '../errors';
import { packageVersion } from '../package-info';
import type { TrainingReport } from '../train/trainer';

/** Parity bars the export must meet before it writes anything. */
export const PARITY_LIMITS = Object.freeze({ fp32MaxAbsProbDiff: 1e-5, int8MinArgmaxAgreement: 0.99 });

function sourceCommit(): string {
  try {
    return execSync('git rev-parse HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return 'unknown';
  }
}

interface ExportArgs { model: string; out: string; name: string; backend: string; 'parity-images': number }

export const exportCommand: CommandModule<object, ExportArgs> = {
  command: 'export-onnx',
  describe: 'export the trained tfjs model to ONNX (fp32 and int8), check parity, evaluate, write the model card',
  builder: (y) => y.options({
    model: { type: 'string', default: 'artifacts/model', describe: 'trained tfjs model directory' },
    out: { type: 'string', default: 'artifacts', describe: 'output directory' },
    name: { type: 'string', default: 'mnist-cnn', describe: 'file name stem' },
    backend: { choices: ['auto', 'tensorflow', 'wasm', 'cpu'], default: 'auto', describe: 'tfjs backend for the parity check' },
    'parity-images': { type: 'number', default: 256, describe: 'test images compared between tfjs and onnxruntime' },
  }),
  handler: async (argv) => {
    // TensorFlow.js and onnxruntime load here, not when the CLI starts (the serve command needs neither).
    const [{ selectBackend }, { loadModel }, { logitsModel }, { compareWithTfjs }, { evaluateOnnxLogits }] = await Promise.all([
      import('../backend/select-backend'), import('../model/io'), import('../model/create-model'), import('../onnx/parity'), import('../onnx/evaluate-onnx')]);
    const version = packageVersion();
    await selectBackend(argv.backend as BackendChoice, (m) => console.log(m));
    const model = await loadModel(argv.model);
    const calibration = join(argv.model, 'calibration.json');
    const temperature = existsSync(calibration) ? JSON.parse(readFileSync(calibration, 'utf8')).temperature as number : 1;
    const reportPath = join(argv.out, 'training-report.json');
    const report = existsSync(reportPath) ? JSON.parse(readFileSync(reportPath, 'utf8')) as TrainingReport : undefined;
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
    const images = toFloat(mnist.test.images.subarray(0, argv['parity-images'] * PIXELS));
    const lm = logitsModel(model);
    const fp32Parity = await compareWithTfjs(model, lm, exportOnnx(model, { producerVersion: version }), images);
    const int8Parity = await compareWithTfjs(model, lm, exportOnnx(model, { quantize: [...INT8_LAYERS], producerVersion: version }), images);
    console.log(`parity on ${fp32Parity.count} images: fp32 max |Δp| ${fp32Parity.maxAbsProbDiff.toExponential(2)}, argmax ${fp32Parity.argmaxAgreement * 100}%;` +
      ` int8 max |Δp| ${int8Parity.maxAbsProbDiff.toExponential(2)}, argmax ${(int8Parity.argmaxAgreement * 100).toFixed(2)}%`);
    if (fp32Parity.maxAbsProbDiff > PARITY_LIMITS.fp32MaxAbsProbDiff || fp32Parity.argmaxAgreement < 1) {
      throw new AppError('ONNX_GRAPH_INVALID', `fp32 export disagrees with tfjs: max |Δp| ${fp32Parity.maxAbsProbDiff}`);
    }
    if (int8Parity.argmaxAgreement < PARITY_LIMITS.int8MinArgmaxAgreement) {
      throw new AppError('ONNX_GRAPH_INVALID', `int8 export agrees with tfjs on only ${int8Parity.argmaxAgreement * 100}% of images`);
    }

    const labels = Array.from(mnist.test.labels);
    const variants = [
      { variant: 'fp32', quantize: [] as string[], file: `${argv.name}.fp32.onnx` },
      { variant: 'int8', quantize: [...INT8_LAYERS], file: `${argv.name}.int8.onnx` },
    ];
    const results: Record<string, { accuracy: number; ece: number; eceRaw: number; path: string }> = {};
    for (const v of variants) {
      // Evaluate, then write with the measured accuracy in the metadata (the graph is the same).
      const bytes = exportOnnx(model, { quantize: v.quantize, temperature, producerVersion: version, metadata: metadata(v.variant) });
      const logits = await evaluateOnnxLogits(bytes, mnist.test);
      const cal = evaluateLogits(logits, labels, temperature);
      const raw = evaluateLogits(logits, labels, 1);
      const path = join(argv.out, v.file);
      writeFileSync(path, exportOnnx(model, { quantize: v.quantize, temperature, producerVersion: version, metadata: metadata(v.variant, cal.accuracy) }));
      results[v.variant] = { accuracy: cal.accuracy, ece: cal.ece, eceRaw: raw.ece, path };
      console.log(`${path}: ${(statSync(path).size / 1e6).toFixed(1)} MB, test accuracy ${(cal.accuracy * 100).toFixed(2)}% through onnxruntime, ECE ${cal.ece.toFixed(4)}`);
    }

    const int8 = results.int8;
    const card: ModelCard = {
      name: argv.name,
      modelVersion: version,
      file: variants[1].file,
      sha256: fileSha256(int8.path),
      bytes: statSync(int8.path).size,
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
        wallSeconds: report?.wallSeconds ?? -1, tfjsTestAccuracy: report?.test.accuracy ?? NaN,
      },
      data: mnist.sha256,
      sourceCommit: commit,
      date: new Date().toISOString(),
    };
    writeFileSync(join(argv.out, 'model-card.json'), `${JSON.stringify(card, null, 2)}\n`);
    writeFileSync(join(argv.out, 'MODEL_CARD.md'), modelCardMarkdown(card));
    console.log(`model card: ${join(argv.out, 'model-card.json')} (int8 ${(int8.accuracy * 100).toFixed(2)}% vs fp32 ${(results.fp32.accuracy * 100).toFixed(2)}%)`);
  },
};
