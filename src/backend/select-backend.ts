import * as tf from '@tensorflow/tfjs';
import { AppError } from '../errors';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export type BackendChoice = BackendName | 'auto';

/**
 * The one place that chooses and prepares the tfjs backend: tfjs-node ('tensorflow') when the optional
 * package loads, else wasm with this project's training kernels; 'cpu' only when asked for.
 * @example await selectBackend('auto') // 'wasm' on a machine without tfjs-node
 */
export async function selectBackend(choice: BackendChoice = 'auto', log: (msg: string) => void = () => {}): Promise<BackendName> {
  if (choice === 'auto' || choice === 'tensorflow') {
    try {
      // Loaded by name so the build does not need the optional package.
      require('@tensorflow/tfjs-node');
      await tf.setBackend('tensorflow');
      await tf.ready();
      log('backend: tensorflow (tfjs-node)');
      return 'tensorflow';
    } catch (err) {
      if (choice === 'tensorflow') {
        throw new AppError('BACKEND_UNAVAILABLE', `backend 'tensorflow' requested but @tensorflow/tfjs-node does not load: ${(err as Error).message}`);
      }
    }
  }
  if (choice === 'auto' || choice === 'wasm') {
    require('@tensorflow/tfjs-backend-wasm');
    const { registerWasmTrainingKernels } = await import('./wasm-kernels');
    registerWasmTrainingKernels();
    const { loadBlas, registerBlasKernels, blasUnavailableReason } = await import('./blas-kernels');
    const blas = loadBlas();
    if (blas) registerBlasKernels(blas);
    if (!(await tf.setBackend('wasm'))) throw new AppError('BACKEND_UNAVAILABLE', 'the wasm backend failed to initialise');
    await tf.ready();
    log(blas
      ? `backend: wasm, matmuls and convolutions on OpenBLAS (${blas.coreName()} kernels)`
      : `backend: wasm (XNNPACK, with this project's training kernels; ${blasUnavailableReason()})`);
    return 'wasm';
  }
  await tf.setBackend('cpu');
  await tf.ready();
  log('backend: cpu (slow: for tests and comparison only)');
  return 'cpu';
}

/** True when the optional @tensorflow/tfjs-node package loads on this machine. */
export function tfjsNodeAvailable(): boolean {
  try {
    require('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}
