import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * Training kernels for the tfjs wasm backend.
 *
 * Out of the box the wasm backend cannot train a conv net (no Conv2DBackpropFilter), runs BatchMatMul
 * through a naive loop whenever an operand is transposed, and computes Conv2DBackpropInput with a naive
 * loop. These kernels route all three through XNNPACK's fast paths (untransposed matmul, forward conv).
 */

type TensorInfo = tf.TensorInfo;
type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };
type KernelFn = (args: KernelArgs) => TensorInfo | TensorInfo[];

interface WasmData {
  memoryOffset: number;
}

function heapF32(backend: BackendWasm, info: TensorInfo): Float32Array {
  const { memoryOffset } = (backend as unknown as { dataIdMap: { get(id: object): WasmData } }).dataIdMap.get(info.dataId);
  return new Float32Array(backend.wasm.HEAPU8.buffer, memoryOffset, tf.util.sizeFromShape(info.shape));
}

function original(name: string): KernelFn {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`wasm kernel '${name}' not registered`);
  return k.kernelFunc as unknown as KernelFn;
}

function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return perm;
}

/**
 * BatchMatMul with transposes made explicit, so XNNPACK's untransposed matmul always does the work
 * (the stock kernel falls back to a naive loop at ~1 GMAC/s when transposeA or transposeB is set).
 */
function makeBatchMatMul(stock: KernelFn, transpose: KernelFn): KernelFn {
  return ({ inputs, backend, attrs }) => {
    let { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    const sizeA = tf.util.sizeFromShape(a.shape);
    const sizeB = tf.util.sizeFromShape(b.shape);
    if (transposeB && !transposeA && a.shape.length === 2 && b.shape.length === 2 && sizeB > 4 * sizeA) {
      // A · Bᵀ with a large B (fc1's weights in the backward pass): XNNPACK packs its right operand anew
      // for every new tensor, so compute (B · Aᵀ)ᵀ and let only the small Aᵀ be packed.
      const at = transpose({ inputs: { x: a }, backend, attrs: { perm: [1, 0] } }) as TensorInfo;
      const prod = stock({ inputs: { a: b, b: at }, backend, attrs: { transposeA: false, transposeB: false } }) as TensorInfo;
      const out = transpose({ inputs: { x: prod }, backend, attrs: { perm: [1, 0] } }) as TensorInfo;
      (backend as BackendWasm).disposeData(at.dataId);
      (backend as BackendWasm).disposeData(prod.dataId);
      return out;
    }
    const temps: TensorInfo[] = [];
    if (transposeA) {
      a = transpose({ inputs: { x: a }, backend, attrs: { perm: swapLastTwo(a.shape.length) } }) as TensorInfo;
      temps.push(a);
    }
    if (transposeB) {
      b = transpose({ inputs: { x: b }, backend, attrs: { perm: swapLastTwo(b.shape.length) } }) as TensorInfo;
      temps.push(b);
    }
    const out = stock({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } }) as TensorInfo;
    for (const t of temps) (backend as BackendWasm).disposeData(t.dataId);
    return out;
  };
}

/**
 * Filter gradient: dW[K, Cout] = patches(x)ᵀ[K, M] · dy[M, Cout], with K = fh·fw·Cin and M = N·OH·OW.
 * The transposed im2col is written straight into wasm memory; the matmul runs on XNNPACK.
 * Handles any stride, padding and dilation.
 */
function makeConv2DBackpropFilter(matmul: KernelFn, reshape: KernelFn): KernelFn {
  return ({ inputs, backend: b, attrs }) => {
    const backend = b as BackendWasm;
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as {
      strides: [number, number] | number; pad: tf.backend_util.PadInfo['type'] | number | tf.backend_util.ExplicitPadding;
      dataFormat: 'NHWC' | 'NCHW'; dimRoundingMode?: 'floor' | 'round' | 'ceil'; filterShape: [number, number, number, number];
    };
    const format = tf.backend_util.convertConv2DDataFormat(dataFormat);
    if (format !== 'channelsLast') throw new Error(`Conv2DBackpropFilter on wasm supports NHWC only, got ${dataFormat}`);
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number], filterShape, strides, 1, pad as never, dimRoundingMode, false, format);
    const { batchSize: n, inHeight: h, inWidth: w, inChannels: cin, outHeight: oh, outWidth: ow, outChannels: cout,
      filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
    const m = n * oh * ow;
    const k = fh * fw * cin;
    const patches = backend.makeOutput([k, m], 'float32');
    const xs = heapF32(backend, x);
    const ps = heapF32(backend, patches);
    ps.fill(0);
    const top = info.padInfo.top;
    const left = info.padInfo.left;
    for (let b0 = 0; b0 < n; b0++) {
      for (let y = 0; y < oh; y++) {
        for (let xo = 0; xo < ow; xo++) {
          const col = (b0 * oh + y) * ow + xo;
          for (let ky = 0; ky < fh; ky++) {
            const iy = y * sh - top + ky * dh;
            if (iy < 0 || iy >= h) continue;
            for (let kx = 0; kx < fw; kx++) {
              const ix = xo * sw - left + kx * dw;
              if (ix < 0 || ix >= w) continue;
              const src = ((b0 * h + iy) * w + ix) * cin;
              let dst = (ky * fw + kx) * cin * m + col;
              for (let c = 0; c < cin; c++, dst += m) ps[dst] = xs[src + c];
            }
          }
        }
      }
    }
    const dy2 = reshape({ inputs: { x: dy }, backend, attrs: { shape: [m, cout] } }) as TensorInfo;
    const dw2 = matmul({ inputs: { a: patches, b: dy2 }, backend, attrs: { transposeA: false, transposeB: false } }) as TensorInfo;
    backend.disposeData(patches.dataId);
    backend.disposeData(dy2.dataId);
    const out = reshape({ inputs: { x: dw2 }, backend, attrs: { shape: filterShape } }) as TensorInfo;
    backend.disposeData(dw2.dataId);
    return out;
  };
}

/**
 * Input gradient for stride 1: a forward convolution (XNNPACK) of dy with the spatially flipped,
 * channel-swapped filter, padded by (f - 1 - pad). Strides or dilations other than 1 use the stock kernel.
 */
function makeConv2DBackpropInput(stock: KernelFn, conv2d: KernelFn): KernelFn {
  return (args) => {
    const backend = args.backend as BackendWasm;
    const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = args.attrs as unknown as {
      strides: [number, number] | number; pad: never; dataFormat: 'NHWC' | 'NCHW';
      dimRoundingMode?: 'floor' | 'round' | 'ceil'; inputShape: [number, number, number, number];
    };
    const format = tf.backend_util.convertConv2DDataFormat(dataFormat);
    const info = tf.backend_util.computeConv2DInfo(
      inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode, false, format);
    const { filterHeight: fh, filterWidth: fw, inChannels: cin, outChannels: cout } = info;
    const padT = fh - 1 - info.padInfo.top;
    const padB = fh - 1 - info.padInfo.bottom;
    const padL = fw - 1 - info.padInfo.left;
    const padR = fw - 1 - info.padInfo.right;
    if (info.strideHeight !== 1 || info.strideWidth !== 1 || format !== 'channelsLast' || Math.min(padT, padB, padL, padR) < 0) {
      return stock(args);
    }
    const flipped = backend.makeOutput([fh, fw, cout, cin], 'float32');
    const src = heapF32(backend, filter);
    const dst = heapF32(backend, flipped);
    for (let ky = 0; ky < fh; ky++) {
      for (let kx = 0; kx < fw; kx++) {
        const sBase = ((fh - 1 - ky) * fw + (fw - 1 - kx)) * cin * cout;
        const dBase = (ky * fw + kx) * cout * cin;
        for (let i = 0; i < cin; i++) {
          for (let o = 0; o < cout; o++) dst[dBase + o * cin + i] = src[sBase + i * cout + o];
        }
      }
    }
    const out = conv2d({
      inputs: { x: dy, filter: flipped }, backend,
      attrs: { strides: [1, 1], pad: [[0, 0], [padT, padB], [padL, padR], [0, 0]], dataFormat: 'NHWC', dilations: [1, 1] },
    }) as TensorInfo;
    backend.disposeData(flipped.dataId);
    return out;
  };
}

let registered = false;

/**
 * Registers this project's training kernels on the wasm backend (idempotent). Call after
 * `@tensorflow/tfjs-backend-wasm` is imported and before the first training step.
 */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  const stockMatMul = original(tf.BatchMatMul);
  const stockBackpropInput = original(tf.Conv2DBackpropInput);
  const transpose = original(tf.Transpose);
  const reshape = original(tf.Reshape);
  const conv2d = original(tf.Conv2D);
  const replace = (kernelName: string, kernelFunc: KernelFn) => {
    const existing = tf.getKernel(kernelName, 'wasm');
    if (existing) tf.unregisterKernel(kernelName, 'wasm');
    tf.registerKernel({ kernelName, backendName: 'wasm', setupFunc: existing?.setupFunc, kernelFunc: kernelFunc as never });
  };
  replace(tf.BatchMatMul, makeBatchMatMul(stockMatMul, transpose));
  replace(tf.Conv2DBackpropFilter, makeConv2DBackpropFilter(stockMatMul, reshape));
  replace(tf.Conv2DBackpropInput, makeConv2DBackpropInput(stockBackpropInput, conv2d));
  registered = true;
}
