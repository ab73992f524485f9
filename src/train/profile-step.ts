import * as tf from '@tensorflow/tfjs';
import { BackendChoice, BackendName, selectBackend } from '../backend/select-backend';
import { createModel, logitsModel } from '../model/create-model';
import { resolveModelConfig } from '../model/config';
import { IMAGE_SIZE, NUM_CLASSES } from '../data/mnist';

/** One row of a step's profile: a part of the network and the kernel time it took. */
export interface StepPart {
  part: string;
  ms: number;
  kernels: number;
}

/** Which part of the network a kernel call belongs to, from its name and input shapes. */
function partOf(name: string, shapes: number[][], fc1In: number): string {
  const big = (s: number[] | undefined) => s !== undefined && s.includes(fc1In);
  switch (name) {
    case 'BatchMatMul':
      if (big(shapes[0]) && big(shapes[1])) return 'fc1 forward';
      if (big(shapes[1])) return 'fc1 input gradient';
      if (big(shapes[0])) return 'fc1 weight gradient';
      return 'fc2 and output matmuls';
    case 'Conv2D': return 'forward convolutions';
    case 'Conv2DBackpropFilter': return 'filter gradients';
    case 'Conv2DBackpropInput': return 'input gradients';
    case 'MaxPoolGrad': return 'max-pool gradients';
    case 'SplitV': return 'concat gradient (SplitV)';
    default: return 'the rest (bias sums, ReLUs, pooling, copies, loss)';
  }
}

/**
 * Kernel time of one replica's forward and backward pass on `batch` random images, summed per part of
 * the network (`make bench-train ARGS="--profile"`): the table of docs/training.md. The first two steps
 * warm up (weight packing, allocation) and are not counted.
 */
export async function profileStep(batch: number, backend: BackendChoice): Promise<{ backend: BackendName; stepMs: number; parts: StepPart[] }> {
  const name = await selectBackend(backend);
  const model = createModel(resolveModelConfig());
  const logits = logitsModel(model);
  const vars = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const x = tf.randomUniform([batch, IMAGE_SIZE, IMAGE_SIZE, 1], 0, 1, 'float32', 1);
  const y = tf.oneHot(tf.randomUniform([batch], 0, NUM_CLASSES, 'int32', 2), NUM_CLASSES).toFloat();
  const step = () => {
    const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, logits.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, vars);
    value.dataSync();
    tf.dispose([value, grads]);
  };
  step();
  step();
  const fc1In = (model.getLayer('fc1').getWeights()[0].shape[0]);
  const t0 = performance.now();
  const info = await tf.profile(step);
  const stepMs = performance.now() - t0;
  const parts = new Map<string, StepPart>();
  for (const k of info.kernels) {
    const part = partOf(k.name, k.inputShapes, fc1In);
    const row = parts.get(part) ?? { part, ms: 0, kernels: 0 };
    row.ms += k.kernelTimeMs as number;
    row.kernels++;
    parts.set(part, row);
  }
  tf.dispose([x, y]);
  model.dispose();
  return { backend: name, stepMs, parts: [...parts.values()].sort((a, b) => b.ms - a.ms) };
}
