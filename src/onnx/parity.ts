import * as tf from '@tensorflow/tfjs';
import { IMAGE_SIZE } from '../data/mnist';
import { argmaxRows } from '../metrics/classification';
import { openSession, SessionOptions } from './ort-session';

export interface ParityResult {
  count: number;
  maxAbsProbDiff: number;
  maxAbsLogitDiff: number;
  argmaxAgreement: number;
}

/**
 * Runs the same images through tfjs `predict` and through onnxruntime and compares: the ONNX model must
 * have been exported with temperature 1 for the probabilities to be comparable (logits always are).
 */
export async function compareWithTfjs(model: tf.LayersModel, logitsModel: tf.LayersModel, onnxBytes: Uint8Array, images: Float32Array,
  options: Partial<SessionOptions> = {}): Promise<ParityResult> {
  const n = images.length / (IMAGE_SIZE * IMAGE_SIZE);
  const [probs, logits] = tf.tidy(() => {
    const x = tf.tensor4d(images, [n, IMAGE_SIZE, IMAGE_SIZE, 1]);
    return [(model.predict(x) as tf.Tensor).dataSync() as Float32Array, (logitsModel.predict(x) as tf.Tensor).dataSync() as Float32Array];
  });
  const session = await openSession(onnxBytes, options);
  try {
    // With one channel, NHWC [n,28,28,1] and NCHW [n,1,28,28] are the same bytes.
    const out = await session.run(images, n);
    let maxP = 0;
    let maxL = 0;
    for (let i = 0; i < probs.length; i++) {
      maxP = Math.max(maxP, Math.abs(probs[i] - out.probabilities[i]));
      maxL = Math.max(maxL, Math.abs(logits[i] - out.logits[i]));
    }
    const a = argmaxRows(probs);
    const b = argmaxRows(out.probabilities);
    const agree = a.reduce((s, v, i) => s + (v === b[i] ? 1 : 0), 0);
    return { count: n, maxAbsProbDiff: maxP, maxAbsLogitDiff: maxL, argmaxAgreement: agree / n };
  } finally {
    await session.close();
  }
}
