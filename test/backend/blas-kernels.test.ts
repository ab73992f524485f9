import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from '../../src/backend/wasm-kernels';
import { blasUnavailableReason, loadBlas, registerBlasKernels } from '../../src/backend/blas-kernels';

/**
 * The OpenBLAS kernels against tfjs's reference (cpu) backend: relative error ≤ 1e-5 on small shapes.
 * CI installs OpenBLAS, so there a missing module is a failure; elsewhere these tests are skipped with
 * the reason printed.
 */
const blas = loadBlas();
if (!blas && process.env.CI) throw new Error(`CI must build the BLAS kernels: ${blasUnavailableReason()}`);
if (!blas) console.warn(`BLAS kernel tests skipped: ${blasUnavailableReason()}`);
const describeBlas = blas ? describe : describe.skip;

async function both(f: () => tf.Tensor | tf.Tensor[]): Promise<Array<{ cpu: Float32Array; wasm: Float32Array }>> {
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    const out = [f()].flat();
    const values = out.map((t) => ({ data: t.dataSync() as Float32Array, shape: t.shape }));
    tf.dispose(out);
    return values;
  };
  const cpu = await run('cpu');
  const wasm = await run('wasm');
  return cpu.map((c, i) => {
    expect(wasm[i].shape).toEqual(c.shape);
    return { cpu: c.data, wasm: wasm[i].data };
  });
}

function relError(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) { num += (a[i] - b[i]) ** 2; den += a[i] ** 2; }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

const rand = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);

function expectClose(results: Array<{ cpu: Float32Array; wasm: Float32Array }>): void {
  for (const r of results) expect(relError(r.cpu, r.wasm)).toBeLessThanOrEqual(1e-5);
}

describeBlas('OpenBLAS training kernels agree with the cpu backend (relative error ≤ 1e-5)', () => {
  beforeAll(async () => {
    registerWasmTrainingKernels();
    registerBlasKernels(blas!);
    await tf.setBackend('wasm');
    await tf.ready();
  });

  const convCases: Array<{ x: number[]; f: number[]; strides: number; pad: 'same' | 'valid' }> = [
    { x: [2, 8, 8, 3], f: [3, 3, 3, 5], strides: 1, pad: 'same' },
    { x: [3, 7, 7, 4], f: [3, 3, 4, 6], strides: 1, pad: 'valid' },
    { x: [2, 9, 9, 2], f: [3, 3, 2, 4], strides: 2, pad: 'same' },
    { x: [1, 10, 8, 3], f: [5, 3, 3, 2], strides: 2, pad: 'valid' },
    { x: [4, 14, 14, 8], f: [3, 3, 8, 16], strides: 1, pad: 'same' },
  ];

  it.each(convCases)('Conv2D and both of its gradients %o', async ({ x, f, strides, pad }) => {
    const results = await both(() => tf.tidy(() => {
      const xs = rand(x, 1) as tf.Tensor4D;
      const w = rand(f, 2) as tf.Tensor4D;
      const y = tf.conv2d(xs, w, strides, pad);
      const dy = rand(y.shape, 3);
      const loss = (a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, strides, pad).mul(dy).sum();
      const [dx, dw] = tf.grads(loss)([xs, w]);
      return [y, dx, dw];
    }));
    expectClose(results);
  });

  it('Conv2D with dilation 2 (tfjs has no gradient for it)', async () => {
    expectClose(await both(() => tf.tidy(() => tf.conv2d(rand([2, 9, 9, 3], 1) as tf.Tensor4D, rand([3, 3, 3, 4], 2) as tf.Tensor4D, 1, 'same', 'NHWC', 2))));
  });

  it('Conv2D over a batch split into several patch-matrix chunks (the filter gradient accumulates across them)', async () => {
    // 1 KiB of patches holds no whole image of this shape (7·7·27·4 bytes), so every image is its own chunk.
    blas!.setPatchLimit(1024);
    try {
      const results = await both(() => tf.tidy(() => {
        const xs = rand([5, 7, 7, 3], 4) as tf.Tensor4D;
        const w = rand([3, 3, 3, 4], 5) as tf.Tensor4D;
        const dy = rand([5, 7, 7, 4], 6);
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same').mul(dy).sum())([xs, w]);
        return [tf.conv2d(xs, w, 1, 'same'), dx, dw];
      }));
      expectClose(results);
    } finally {
      blas!.setPatchLimit(0);
    }
  });

  it.each([
    [[5, 7], [7, 3], false, false],
    [[7, 5], [7, 3], true, false],
    [[5, 7], [3, 7], false, true],
    [[7, 5], [3, 7], true, true],
    [[4, 6], [200, 6], false, true],
    [[2, 5, 7], [2, 3, 7], false, true],
    [[2, 7, 5], [1, 7, 3], true, false],
    [[1, 5, 7], [3, 7, 2], false, false],
  ])('BatchMatMul a=%o b=%o transposeA=%s transposeB=%s', async (sa, sb, ta, tb) => {
    expectClose(await both(() => tf.tidy(() => tf.matMul(rand(sa, 4), rand(sb, 5), ta, tb))));
  });

  it.each([
    [[2, 8, 8, 3], 2, 2, 'valid'],
    [[2, 7, 7, 4], 2, 2, 'same'],
    [[1, 9, 9, 2], 3, 1, 'same'],
    [[3, 10, 10, 5], 3, 2, 'valid'],
  ] as Array<[number[], number, number, 'same' | 'valid']>)('MaxPoolGrad x=%o pool %i stride %i %s', async (shape, size, stride, pad) => {
    const results = await both(() => tf.tidy(() => {
      const xs = rand(shape, 7) as tf.Tensor4D;
      const dy = rand(tf.maxPool(xs, size, stride, pad).shape, 8);
      return tf.grad((a: tf.Tensor) => tf.maxPool(a as tf.Tensor4D, size, stride, pad).mul(dy).sum())(xs);
    }));
    expectClose(results);
  });

  it('MaxPoolGrad sends a tied window\'s gradient to its first maximum, as the reference does', async () => {
    const results = await both(() => tf.tidy(() => {
      const xs = tf.tensor4d([1, 1, 0, 2, 2, 2, 0, 0, 3, 3, 3, 3, 0, 1, 1, 0], [1, 4, 4, 1]);
      return tf.grad((a: tf.Tensor) => tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid').mul(tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1])).sum())(xs);
    }));
    expect(Array.from(results[0].wasm)).toEqual(Array.from(results[0].cpu));
  });

  it.each([
    [[3, 4, 10], [4, 6], -1],
    [[2, 5, 6], 3, 2],
    [[4, 6], [1, 2, 3], 1],
    [[4, 6, 2], [1, 3], 0], // not the last axis: the stock kernel
  ] as Array<[number[], number[] | number, number]>)('SplitV x=%o into %o on axis %i', async (shape, splits, axis) => {
    expectClose(await both(() => tf.tidy(() => tf.split(rand(shape, 9), splits, axis))));
  });
});
