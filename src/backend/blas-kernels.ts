import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * The wasm backend's matmuls and convolutions computed by OpenBLAS through a small native module
 * (`src/backend/native/blas-kernels.c`, built into `dist/native/` by `npm run build` when a C compiler
 * and OpenBLAS are there). The tensors stay in the wasm heap; the module reads and writes them in place.
 * Without the module the XNNPACK kernels of `wasm-kernels.ts` train alone, only slower.
 */

/** The native module's functions; offsets are bytes into the wasm memory, sizes are elements. */
interface BlasModule {
  conv2d(memory: ArrayBuffer, x: number, filter: number, y: number, ...dims: number[]): void;
  conv2dBackpropFilter(memory: ArrayBuffer, x: number, dy: number, dw: number, ...dims: number[]): void;
  conv2dBackpropInput(memory: ArrayBuffer, dy: number, filter: number, dx: number, ...dims: number[]): void;
  maxPoolGrad(memory: ArrayBuffer, dy: number, x: number, dx: number, ...dims: number[]): void;
  matmul(memory: ArrayBuffer, a: number, b: number, c: number, batch: number, m: number, n: number, k: number,
    transposeA: number, transposeB: number, strideA: number, strideB: number): void;
  setThreads(threads: number): void;
  setPatchLimit(bytes: number): void; // 0 restores the default (64 MiB)
  coreName(): string;
}

type TensorInfo = tf.TensorInfo;
type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };
type KernelFn = (args: KernelArgs) => TensorInfo | TensorInfo[];

/** The built module's place below the package root (`dist/` is the build's output). */
const MODULE_PATH = join('dist', 'native', 'blas-kernels.node');

let loaded: BlasModule | null | undefined;
let registered = false;
let loadError = '';

/**
 * The native module, or null when it is not built or does not load (`blasUnavailableReason()` says why).
 * Each BLAS call runs on one thread: the trainer runs one replica per core.
 */
export function loadBlas(): BlasModule | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.env.MNIST_TRAIN_BLAS === '0') {
    loadError = 'disabled by MNIST_TRAIN_BLAS=0';
    return loaded;
  }
  for (let dir = __dirname, i = 0; i < 4; i++, dir = join(dir, '..')) {
    if (!existsSync(join(dir, 'package.json'))) continue;
    const file = join(dir, MODULE_PATH);
    if (!existsSync(file)) {
      loadError = `${MODULE_PATH} is not built (npm run build needs a C compiler and OpenBLAS: apt-get install gcc libopenblas-dev)`;
      return loaded;
    }
    try {
      const module = { exports: {} as BlasModule };
      process.dlopen(module, file);
      module.exports.setThreads(1);
      loaded = module.exports;
    } catch (err) {
      loadError = `${MODULE_PATH} does not load: ${(err as Error).message}`;
    }
    return loaded;
  }
  loadError = 'no package root found above this module';
  return loaded;
}

/** Why `loadBlas()` returned null ('' when it did not). */
export function blasUnavailableReason(): string {
  return loadError;
}

function offset(backend: BackendWasm, info: TensorInfo): number {
  return (backend as unknown as { dataIdMap: { get(id: object): { memoryOffset: number } } }).dataIdMap.get(info.dataId).memoryOffset;
}

/** The wasm memory as it is now: allocating an output may grow it and replace the buffer. */
function memory(backend: BackendWasm): ArrayBuffer {
  return backend.wasm.HEAPU8.buffer as ArrayBuffer;
}

type ConvAttrs = {
  strides: [number, number] | number; pad: never; dataFormat: 'NHWC' | 'NCHW'; dimRoundingMode?: 'floor' | 'round' | 'ceil';
};

/** The dimensions the native convolutions take, in their order. */
function convDims(info: tf.backend_util.Conv2DInfo): number[] {
  return [info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, info.outChannels,
    info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, info.dilationHeight, info.dilationWidth,
    info.padInfo.top, info.padInfo.left];
}

type Shape4 = [number, number, number, number];

/**
 * What one of the three convolution kernels needs: its two operands in the native call's order, the
 * convolution's input and filter shapes and dilation, and its output's shape.
 */
type ConvPlan = (inputs: Record<string, TensorInfo>, attrs: Record<string, unknown>) =>
  { operands: [TensorInfo, TensorInfo]; xShape: Shape4; filterShape: Shape4; dilations: [number, number] | number; outShape: (info: tf.backend_util.Conv2DInfo) => number[] };

/** A convolution kernel (NHWC only; other layouts go to `fallback`) that computes with `native`. */
function convKernel(native: (blas: BlasModule) => BlasModule['conv2d'], plan: ConvPlan) {
  return (blas: BlasModule, fallback: KernelFn): KernelFn => (args) => {
    const backend = args.backend as BackendWasm;
    const { strides, pad, dataFormat, dimRoundingMode } = args.attrs as unknown as ConvAttrs;
    const format = tf.backend_util.convertConv2DDataFormat(dataFormat);
    if (format !== 'channelsLast') return fallback(args);
    const p = plan(args.inputs as Record<string, TensorInfo>, args.attrs as Record<string, unknown>);
    const info = tf.backend_util.computeConv2DInfo(p.xShape, p.filterShape, strides, p.dilations, pad, dimRoundingMode, false, format);
    const out = backend.makeOutput(p.outShape(info), 'float32');
    native(blas).call(blas, memory(backend), offset(backend, p.operands[0]), offset(backend, p.operands[1]), offset(backend, out), ...convDims(info));
    return out;
  };
}

const makeConv2D = convKernel((b) => b.conv2d, ({ x, filter }, attrs) => ({
  operands: [x, filter], xShape: x.shape as Shape4, filterShape: filter.shape as Shape4,
  dilations: (attrs.dilations as [number, number] | number | undefined) ?? 1, outShape: (info) => info.outShape,
}));

const makeConv2DBackpropFilter = convKernel((b) => b.conv2dBackpropFilter, ({ x, dy }, attrs) => ({
  operands: [x, dy], xShape: x.shape as Shape4, filterShape: attrs.filterShape as Shape4, dilations: 1,
  outShape: () => attrs.filterShape as Shape4,
}));

const makeConv2DBackpropInput = convKernel((b) => b.conv2dBackpropInput, ({ dy, filter }, attrs) => ({
  operands: [dy, filter], xShape: attrs.inputShape as Shape4, filterShape: filter.shape as Shape4, dilations: 1,
  outShape: () => attrs.inputShape as Shape4,
}));

function makeMaxPoolGrad(blas: BlasModule, fallback: KernelFn): KernelFn {
  return (args) => {
    const backend = args.backend as BackendWasm;
    const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
    const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as {
      filterSize: [number, number] | number; strides: [number, number] | number; pad: never; dimRoundingMode?: 'floor' | 'round' | 'ceil';
    };
    if (input.shape.length !== 4 || input.dtype !== 'float32') return fallback(args);
    const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
    const out = backend.makeOutput(input.shape, 'float32');
    blas.maxPoolGrad(memory(backend), offset(backend, dy), offset(backend, input), offset(backend, out),
      info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth,
      info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left);
    return out;
  };
}

/**
 * SplitV along the last axis (the gradient of the branches' concatenation): the stock kernel slices
 * element by element; whole rows are copied here.
 */
function makeSplitV(_blas: BlasModule, fallback: KernelFn): KernelFn {
  return (args) => {
    const backend = args.backend as BackendWasm;
    const { x } = args.inputs as { x: TensorInfo };
    const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number[] | number; axis: number };
    const rank = x.shape.length;
    if (tf.util.parseAxisParam(axis, x.shape)[0] !== rank - 1 || x.dtype !== 'float32' || rank < 2) return fallback(args);
    const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, rank - 1);
    const outs = sizes.map((size) => backend.makeOutput([...x.shape.slice(0, -1), size], 'float32'));
    const width = x.shape[rank - 1];
    const rows = tf.util.sizeFromShape(x.shape) / width;
    const heap = new Float32Array(memory(backend));
    const src = offset(backend, x) / 4;
    let start = 0;
    sizes.forEach((size, i) => {
      const dst = offset(backend, outs[i]) / 4;
      for (let r = 0; r < rows; r++) heap.copyWithin(dst + r * size, src + r * width + start, src + r * width + start + size);
      start += size;
    });
    return outs;
  };
}

/** BatchMatMul with transposes handled by BLAS itself; batch dimensions equal or one of them 1. */
function makeBatchMatMul(blas: BlasModule, fallback: KernelFn): KernelFn {
  return (args) => {
    const backend = args.backend as BackendWasm;
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    const ra = a.shape.length;
    const rb = b.shape.length;
    const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
    const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
    const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
    const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
    const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
    if (batchA !== batchB && batchA !== 1 && batchB !== 1) return fallback(args);
    const batchShape = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const out = backend.makeOutput([...batchShape, m, n], 'float32');
    blas.matmul(memory(backend), offset(backend, a), offset(backend, b), offset(backend, out), Math.max(batchA, batchB), m, n, k,
      transposeA ? 1 : 0, transposeB ? 1 : 0, batchA === 1 ? 0 : m * k, batchB === 1 ? 0 : k * n);
    return out;
  };
}

/**
 * Replaces the wasm backend's Conv2D, its two gradients and BatchMatMul by the BLAS kernels; the kernels
 * registered before (the XNNPACK training kernels) stay as the fallback for layouts these do not take.
 */
export function registerBlasKernels(blas: BlasModule): void {
  if (registered) return;
  const replace = (kernelName: string, make: (blas: BlasModule, fallback: KernelFn) => KernelFn) => {
    const existing = tf.getKernel(kernelName, 'wasm');
    if (!existing) throw new Error(`wasm kernel '${kernelName}' not registered`);
    tf.unregisterKernel(kernelName, 'wasm');
    const kernelFunc = make(blas, existing.kernelFunc as unknown as KernelFn);
    tf.registerKernel({ kernelName, backendName: 'wasm', setupFunc: existing.setupFunc, kernelFunc: kernelFunc as never });
  };
  replace(tf.Conv2D, makeConv2D);
  replace(tf.Conv2DBackpropFilter, makeConv2DBackpropFilter);
  replace(tf.Conv2DBackpropInput, makeConv2DBackpropInput);
  replace(tf.BatchMatMul, makeBatchMatMul);
  replace(tf.MaxPoolGrad, makeMaxPoolGrad);
  replace(tf.SplitV, makeSplitV);
  registered = true;
}
