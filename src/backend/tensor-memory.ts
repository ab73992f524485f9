import * as tf from '@tensorflow/tfjs';

/**
 * Copies a float32 tensor's values into `target` at `at` without the intermediate copy of `dataSync()`.
 * On the wasm backend the values are read straight from the wasm heap: `dataSync()` would allocate a new
 * array per call, and for fc1's 25 M-weight gradient that allocation and its page faults cost more than
 * the copy (about 0.3 s per training step on two cores).
 */
export function copyTensorInto(tensor: tf.Tensor, target: Float32Array, at: number): void {
  const backend = tf.backend() as unknown as {
    dataIdMap?: { get(id: object): { memoryOffset: number } | undefined }; wasm?: { HEAPU8: Uint8Array };
  };
  const entry = tf.getBackend() === 'wasm' && tensor.dtype === 'float32' ? backend.dataIdMap?.get(tensor.dataId) : undefined;
  if (entry && backend.wasm) {
    target.set(new Float32Array(backend.wasm.HEAPU8.buffer, entry.memoryOffset, tensor.size), at);
  } else {
    target.set(tensor.dataSync() as Float32Array, at);
  }
}
