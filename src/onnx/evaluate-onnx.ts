import type { Dataset } from '../data/mnist';
import { PIXELS } from '../data/mnist';
import { openSession, SessionOptions } from './ort-session';

/** Logits of every image of `data` from an ONNX model, run through onnxruntime in batches. */
export async function evaluateOnnxLogits(model: string | Uint8Array, data: Dataset, options: Partial<SessionOptions> = {}, batch = 256): Promise<Float32Array> {
  const session = await openSession(model, { intraOpNumThreads: 2, ...options });
  try {
    const out = new Float32Array(data.count * 10);
    for (let i = 0; i < data.count; i += batch) {
      const n = Math.min(batch, data.count - i);
      const x = new Float32Array(n * PIXELS);
      for (let k = 0; k < x.length; k++) x[k] = data.images[i * PIXELS + k] / 255;
      const { logits } = await session.run(x, n);
      out.set(logits, i * 10);
    }
    return out;
  } finally {
    await session.close();
  }
}
