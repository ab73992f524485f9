import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from '../../src/backend/wasm-kernels';

/** Runs `f` on the cpu backend and on wasm (with our kernels) and returns both results. */
async function both(f: () => tf.Tensor): Promise<{ cpu: Float32Array; wasm: Float32Array; shape: number[] }> {
  await tf.setBackend('cpu');
  const c = f();
  const cpu = c.dataSync() as Float32Array;
  const shape = c.shape;
  c.dispose();
  await tf.setBackend('wasm');
  const w = f();
  const wasm = w.dataSync() as Float32Array;
  expect(w.shape).toEqual(shape);
  w.dispose();
  return { cpu, wasm, shape };
}

function relError(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) { num += (a[i] - b[i]) ** 2; den += a[i] ** 2; }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

function rand(shape: number[], seed: number): tf.Tensor4D {
  const t: tf.Tensor = tf.randomNormal(shape, 0, 1, 'float32', seed);
  return t as tf.Tensor4D;
}

beforeAll(async () => {
  registerWasmTrainingKernels();
  await tf.setBackend('wasm');
  await tf.ready();
});

describe('wasm training kernels agree with the cpu backend (relative error ≤ 1e-4)', () => {
  const convCases: Array<{ x: [number, number, number, number]; f: [number, number, number, number]; strides: number; pad: 'same' | 'valid' }> = [
    { x: [2, 8, 8, 3], f: [3, 3, 3, 5], strides: 1, pad: 'same' },
    { x: [3, 7, 7, 4], f: [3, 3, 4, 6], strides: 1, pad: 'valid' },
    { x: [2, 9, 9, 2], f: [3, 3, 2, 4], strides: 2, pad: 'same' }, // not accelerated: stock fallback for dx
    { x: [1, 10, 8, 3], f: [5, 3, 3, 2], strides: 2, pad: 'valid' },
    { x: [4, 14, 14, 8], f: [3, 3, 8, 16], strides: 1, pad: 'same' },
  ];

  it.each(convCases)('Conv2DBackpropFilter %o', async ({ x, f, strides, pad }) => {
    const r = await both(() => tf.tidy(() => {
      const xs = rand(x, 1);
      const dy = tf.conv2d(xs, rand(f, 2), strides, pad);
      return tf.grad((w: tf.Tensor) => tf.conv2d(xs, w as tf.Tensor4D, strides, pad).mul(rand(dy.shape, 3)).sum())(rand(f, 2) as tf.Tensor4D);
    }));
    expect(relError(r.cpu, r.wasm)).toBeLessThanOrEqual(1e-4);
  });

  it.each(convCases)('Conv2DBackpropInput %o', async ({ x, f, strides, pad }) => {
    const r = await both(() => tf.tidy(() => {
      const w = rand(f, 2) as tf.Tensor4D;
      const dyShape = tf.conv2d(rand(x, 1) as tf.Tensor4D, w, strides, pad).shape;
      return tf.grad((xs: tf.Tensor) => tf.conv2d(xs as tf.Tensor4D, w, strides, pad).mul(rand(dyShape, 3)).sum())(rand(x, 1) as tf.Tensor4D);
    }));
    expect(relError(r.cpu, r.wasm)).toBeLessThanOrEqual(1e-4);
  });

  it.each([
    ['numeric padding', 1, [3, 3, 4, 5]],
    ['explicit asymmetric padding', [[0, 0], [1, 0], [2, 1], [0, 0]], [3, 4, 4, 5]],
  ])('both backprop kernels with %s', async (_label, pad, filterShape) => {
    const run = (kernel: string, inputs: tf.NamedTensorMap, extra: tf.NamedAttrMap) =>
      tf.engine().runKernel(kernel, inputs, { strides: [1, 1], pad, dataFormat: 'NHWC', ...extra } as never) as tf.Tensor;
    const xShape = [2, 8, 7, 4];
    const fs = filterShape as number[];
    const dyShape = tf.tidy(() => tf.conv2d(rand(xShape, 1), rand(fs, 2), 1, pad as never).shape);
    const f = await both(() => tf.tidy(() => run('Conv2DBackpropFilter', { x: rand(xShape, 1), dy: rand(dyShape, 3) }, { filterShape: fs })));
    expect(relError(f.cpu, f.wasm)).toBeLessThanOrEqual(1e-4);
    const i = await both(() => tf.tidy(() => run('Conv2DBackpropInput', { dy: rand(dyShape, 3), filter: rand(fs, 2) }, { inputShape: xShape })));
    expect(relError(i.cpu, i.wasm)).toBeLessThanOrEqual(1e-4);
  });

  const mmCases: Array<[number[], number[], boolean, boolean]> = [
    [[5, 7], [7, 3], false, false],
    [[7, 5], [7, 3], true, false],
    [[5, 7], [3, 7], false, true],
    [[7, 5], [3, 7], true, true],
    [[4, 6], [200, 6], false, true], // large B: computed as (B·Aᵀ)ᵀ
    [[2, 5, 7], [2, 3, 7], false, true], // batched
    [[2, 7, 5], [1, 7, 3], true, false], // broadcast batch
  ];

  it.each(mmCases)('BatchMatMul a=%o b=%o transposeA=%s transposeB=%s', async (sa, sb, ta, tb) => {
    const r = await both(() => tf.tidy(() => tf.matMul(rand(sa, 4), rand(sb, 5), ta, tb)));
    expect(relError(r.cpu, r.wasm)).toBeLessThanOrEqual(1e-4);
  });
});
