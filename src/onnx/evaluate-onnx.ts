import type { Dataset } from '../data/mnist';
import { PIXELS } from '../data/mnist';
import { openSession, SessionOptions } from './ort-session';

/** Logits and (calibrated) probabilities of every image of `data`, run through onnxruntime in batches. */
export async function runOnnx(model: string | Uint8Array, data: Dataset, options: Partial<SessionOptions> = {}, batch = 256): Promise<{ logits: Float32Array; probabilities: Float32Array }> {
  const session = await openSession(model, { intraOpNumThreads: 2, ...options });
  try {
    const logits = new Float32Array(data.count * 10);
    const probabilities = new Float32Array(data.count * 10);
    for (let i = 0; i < data.count; i += batch) {
      const n = Math.min(batch, data.count - i);
      const x = new Float32Array(n * PIXELS);
      for (let k = 0; k < x.length; k++) x[k] = data.images[i * PIXELS + k] / 255;
      const out = await session.run(x, n);
      logits.set(out.logits, i * 10);
      probabilities.set(out.probabilities, i * 10);
    }
    return { logits, probabilities };
  } finally {
    await session.close();
  }
}

/** Logits of every image of `data` from an ONNX model. */
export async function evaluateOnnxLogits(model: string | Uint8Array, data: Dataset, options: Partial<SessionOptions> = {}): Promise<Float32Array> {
  return (await runOnnx(model, data, options)).logits;
}
