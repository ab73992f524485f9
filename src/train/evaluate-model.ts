import { existsSync } from 'node:fs';
import type { Tensor } from '@tensorflow/tfjs';
import { AppError } from '../errors';
import type { BackendChoice } from '../backend/select-backend';
import { Dataset, IMAGE_SIZE, NUM_CLASSES, PIXELS, toFloat } from '../data/mnist';
import { evaluateLogits, Evaluation, expectedCalibrationError } from '../metrics/classification';

/** Test images per tfjs predict call: bounds the tensors alive at once. */
const TFJS_EVAL_BATCH = 500;

export interface ModelEvaluation {
  evaluation: Evaluation; // of softmax(logits)
  /** ECE of the probabilities an ONNX model outputs itself (temperature included); undefined for tfjs models. */
  calibratedEce?: number;
  imagesPerSecond: number;
}

/**
 * Evaluates a saved model on a labelled set: an ONNX file through onnxruntime, or a tfjs model
 * directory on the chosen backend. `make evaluate` and `make evaluate-tfjs` print this.
 * @example const { evaluation } = await evaluateSavedModel('artifacts/mnist-cnn.int8.onnx', test); // evaluation.accuracy ≈ 0.9961
 */
export async function evaluateSavedModel(modelPath: string, test: Dataset, backend: BackendChoice = 'auto', log: (line: string) => void = () => {}): Promise<ModelEvaluation> {
  if (!existsSync(modelPath)) {
    throw new AppError('MODEL_INVALID', `${modelPath} does not exist${modelPath.endsWith('.onnx') ? '' : ': a tfjs model directory is written by make train (a fresh clone has only the shipped ONNX model, which make evaluate reads)'}`);
  }
  const labels = Array.from(test.labels);
  const started = performance.now();
  let logits: Float32Array;
  let calibratedEce: number | undefined;
  if (modelPath.endsWith('.onnx')) {
    const { runOnnx } = await import('../onnx/evaluate-onnx');
    const out = await runOnnx(modelPath, test);
    logits = out.logits;
    calibratedEce = expectedCalibrationError(out.probabilities, labels);
  } else {
    // TensorFlow.js loads here, not when the CLI starts.
    const [tf, { selectBackend }, { loadModel }, { logitsModel }] = await Promise.all([
      import('@tensorflow/tfjs'), import('../backend/select-backend'), import('../model/io'), import('../model/create-model')]);
    await selectBackend(backend, log);
    const model = logitsModel(await loadModel(modelPath));
    logits = new Float32Array(test.count * NUM_CLASSES);
    for (let i = 0; i < test.count; i += TFJS_EVAL_BATCH) {
      const n = Math.min(TFJS_EVAL_BATCH, test.count - i);
      const x = tf.tensor4d(toFloat(test.images.subarray(i * PIXELS, (i + n) * PIXELS)), [n, IMAGE_SIZE, IMAGE_SIZE, 1]);
      const y = model.predict(x) as Tensor;
      logits.set(y.dataSync() as Float32Array, i * NUM_CLASSES);
      tf.dispose([x, y]);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  return { evaluation: evaluateLogits(logits, labels), calibratedEce, imagesPerSecond: test.count / seconds };
}
