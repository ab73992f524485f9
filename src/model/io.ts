import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../errors';

type NamedTensor = { name: string; tensor: tf.Tensor };

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';

function atomicWrite(path: string, data: string | Uint8Array): void {
  writeFileSync(`${path}.tmp`, data);
  renameSync(`${path}.tmp`, path);
}

/** Saves a layers model in the standard tfjs format (model.json + weights.bin), loadable by tfjs-node too. */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    atomicWrite(join(dir, WEIGHTS_BIN), new Uint8Array(artifacts.weightData as ArrayBuffer));
    atomicWrite(join(dir, MODEL_JSON), JSON.stringify({
      format: 'layers-model',
      generatedBy: artifacts.generatedBy,
      convertedBy: null,
      modelTopology: artifacts.modelTopology,
      weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs }],
    }));
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
  }));
}

/** Loads a model written by saveModel (or any single-shard tfjs layers model). */
export async function loadModel(dir: string): Promise<tf.LayersModel> {
  const jsonPath = join(dir, MODEL_JSON);
  if (!existsSync(jsonPath)) throw new AppError('MODEL_INVALID', `no tfjs model at ${jsonPath}`);
  const json = JSON.parse(readFileSync(jsonPath, 'utf8'));
  const manifest = json.weightsManifest as Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
  const buffers = manifest.flatMap((g) => g.paths.map((p) => readFileSync(join(dir, p))));
  const all = Buffer.concat(buffers);
  return tf.loadLayersModel(tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: manifest.flatMap((g) => g.weights),
    weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
  }));
}

/** Saves named tensors (e.g. optimizer state) as a JSON manifest plus one float32 blob. */
export async function saveTensors(tensors: NamedTensor[], path: string): Promise<void> {
  const specs = tensors.map(({ name, tensor }) => ({ name, shape: tensor.shape, dtype: tensor.dtype }));
  const parts = await Promise.all(tensors.map(({ tensor }) => tensor.data()));
  const total = parts.reduce((n: number, p) => n + p.length, 0);
  const blob = new Float32Array(total);
  let off = 0;
  for (const p of parts) { blob.set(p as Float32Array, off); off += p.length; }
  atomicWrite(`${path}.bin`, new Uint8Array(blob.buffer));
  atomicWrite(`${path}.json`, JSON.stringify(specs));
}

/** Loads tensors written by saveTensors. */
export function loadTensors(path: string): NamedTensor[] {
  const specs = JSON.parse(readFileSync(`${path}.json`, 'utf8')) as Array<{ name: string; shape: number[]; dtype: tf.DataType }>;
  const buf = readFileSync(`${path}.bin`);
  const blob = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  let off = 0;
  return specs.map(({ name, shape, dtype }) => {
    const size = tf.util.sizeFromShape(shape);
    const tensor = tf.tensor(blob.subarray(off, off + size), shape, dtype);
    off += size;
    return { name, tensor };
  });
}
