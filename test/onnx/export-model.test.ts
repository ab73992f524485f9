import * as tf from '@tensorflow/tfjs';
import { onnx } from 'onnx-proto';
import { selectBackend } from '../../src/backend/select-backend';
import { createModel, LAYER_NAMES, logitsModel } from '../../src/model/create-model';
import { exportOnnx, hwioToOihw, INT8_LAYERS, permuteFlattenRows, quantizePerChannel } from '../../src/onnx/export-model';
import { compareWithTfjs } from '../../src/onnx/parity';
import { openSession } from '../../src/onnx/ort-session';
import { loadMnist, PIXELS, toFloat } from '../../src/data/mnist';

const SMALL = { conv1Filters: 4, conv2Filters: 6, conv3Filters: 8, fc1Units: 32, fc2Units: 16, seed: 11 };
let inputs: Float32Array; // 256 real MNIST test images, [0,1]

beforeAll(async () => {
  await selectBackend('wasm');
  inputs = toFloat((await loadMnist()).test.images.subarray(0, 256 * PIXELS));
});

describe('layout conversions', () => {
  it('HWIO → OIHW moves every weight to its ONNX position', () => {
    const k = Float32Array.from({ length: 2 * 3 * 4 * 5 }, (_, i) => i);
    const o = hwioToOihw(k, [2, 3, 4, 5]);
    // tfjs [y=1, x=2, c=3, f=4] is ONNX [f=4, c=3, y=1, x=2]
    expect(o[((4 * 4 + 3) * 2 + 1) * 3 + 2]).toBe(k[((1 * 3 + 2) * 4 + 3) * 5 + 4]);
  });

  it('permutes fc1 rows from (h, w, c) to (c, h, w) flatten order', () => {
    const units = 2;
    const k = Float32Array.from({ length: 2 * 3 * 4 * units }, (_, i) => i);
    const p = permuteFlattenRows(k, 2, 3, 4, units);
    // row of (h=1, w=2, c=3): tfjs (1*3+2)*4+3 = 23, ONNX 3*6 + 1*3 + 2 = 23 -> pick (h=0, w=1, c=2): 6 vs 13
    expect(p.subarray(13 * units, 14 * units)).toEqual(k.subarray(6 * units, 7 * units));
  });

  it('per-channel int8 quantization reconstructs weights within half a step', () => {
    const w = Float32Array.from({ length: 50 * 3 }, (_, i) => Math.sin(i) * (1 + (i % 3)));
    const { q, scales } = quantizePerChannel(w, 50, 3);
    for (let i = 0; i < w.length; i++) expect(Math.abs(q[i] * scales[i % 3] - w[i])).toBeLessThanOrEqual(scales[i % 3] / 2 + 1e-7);
    expect(Math.max(...Array.from(q, Math.abs))).toBe(127);
  });
});

/**
 * A small configuration, briefly trained: random tiny nets give near-tied logits, where the argmax is
 * decided by noise; a few hundred steps give it the margins of a real model.
 */
async function trainedSmallModel(): Promise<tf.LayersModel> {
  const model = createModel(SMALL);
  const mnist = await loadMnist();
  const n = 2048;
  const x = tf.tensor4d(toFloat(mnist.train.images.subarray(0, n * PIXELS)), [n, 28, 28, 1]);
  const y = tf.oneHot(tf.tensor1d(Array.from(mnist.train.labels.subarray(0, n)), 'int32'), 10);
  model.compile({ optimizer: tf.train.adam(3e-3), loss: 'categoricalCrossentropy' });
  await model.fit(x, y, { epochs: 3, batchSize: 64, verbose: 0 });
  tf.dispose([x, y]);
  return model;
}

describe.each([
  ['small configuration, briefly trained', trainedSmallModel],
  ['full-size architecture (random weights)', async () => createModel()],
])('export parity with tfjs: %s', (_label, build) => {
  let model: tf.LayersModel;
  beforeAll(async () => { model = await build(); });
  afterAll(() => model.dispose());

  it('fp32: max |Δp| ≤ 1e-5 and identical argmax on 256 inputs', async () => {
    const r = await compareWithTfjs(model, logitsModel(model), exportOnnx(model), inputs);
    expect(r.count).toBe(256);
    expect(r.maxAbsProbDiff).toBeLessThanOrEqual(1e-5);
    expect(r.argmaxAgreement).toBe(1);
  });

  it('int8: argmax agreement ≥ 99% (max |Δp| reported)', async () => {
    const r = await compareWithTfjs(model, logitsModel(model), exportOnnx(model, { quantize: [...INT8_LAYERS] }), inputs);
    console.log(`int8 parity (${_label}): max |Δp| ${r.maxAbsProbDiff.toExponential(2)}, argmax agreement ${(r.argmaxAgreement * 100).toFixed(2)}%`);
    expect(r.argmaxAgreement).toBeGreaterThanOrEqual(0.99);
  });
});

describe('the exported graph', () => {
  let model: tf.LayersModel;
  let bytes: Uint8Array;
  beforeAll(() => {
    model = createModel(SMALL);
    bytes = exportOnnx(model, { quantize: [...INT8_LAYERS], temperature: 1.5, metadata: { test_accuracy: '0.5' } });
  });

  it('carries the layer names as node names and the contract inputs/outputs', () => {
    const m = onnx.ModelProto.decode(bytes);
    const graph = m.graph as onnx.GraphProto;
    const names = graph.node.map((n) => n.name);
    for (const n of LAYER_NAMES) expect(names).toContain(n);
    expect(graph.node.find((n) => n.name === 'conv3')!.opType).toBe('Concat');
    expect(graph.node.find((n) => n.name === 'fc1')!.opType).toBe('MatMulInteger');
    expect(graph.input.map((i) => i.name)).toEqual(['image']);
    const dims = (graph.input[0].type as onnx.TypeProto).tensorType?.shape?.dim ?? [];
    expect(dims.map((d) => d.dimParam || Number(d.dimValue))).toEqual(['N', 1, 28, 28]);
    expect(graph.output.map((o) => o.name)).toEqual(['probabilities', 'logits']);
    expect(m.metadataProps.find((p) => p.key === 'test_accuracy')!.value).toBe('0.5');
  });

  it('gives the same answers with graph optimization disabled and all, for batches of 1, 7 and 64', async () => {
    const off = await openSession(bytes, { graphOptimizationLevel: 'disabled' });
    const all = await openSession(bytes, { graphOptimizationLevel: 'all' });
    for (const n of [1, 7, 64]) {
      const x = inputs.subarray(0, n * PIXELS);
      const a = await off.run(x, n);
      const b = await all.run(x, n);
      expect(a.probabilities.length).toBe(n * 10);
      let max = 0;
      for (let i = 0; i < a.probabilities.length; i++) max = Math.max(max, Math.abs(a.probabilities[i] - b.probabilities[i]));
      expect(max).toBeLessThanOrEqual(1e-5);
    }
    await off.close();
    await all.close();
  });

  it('answers an image the same whatever is batched with it (activations quantized per image)', async () => {
    const s = await openSession(bytes);
    const alone = await s.run(inputs.subarray(0, PIXELS), 1);
    // A neighbour with far larger activations than any digit: with one quantization scale per batch it
    // would coarsen the first image's fc1 input.
    const batch = new Float32Array(3 * PIXELS);
    batch.set(inputs.subarray(0, PIXELS), 0);
    batch.fill(1, PIXELS, 2 * PIXELS);
    for (let i = 2 * PIXELS; i < 3 * PIXELS; i++) batch[i] = (i * 7919) % 13 < 6 ? 1 : 0;
    const together = await s.run(batch, 3);
    expect(Array.from(together.logits.subarray(0, 10))).toEqual(Array.from(alone.logits));
    await s.close();
  });

  it('divides the logits by the temperature before the softmax', async () => {
    const s = await openSession(bytes);
    const { probabilities, logits } = await s.run(inputs.subarray(0, PIXELS), 1);
    const z = Array.from(logits, (l) => l / 1.5);
    const max = Math.max(...z);
    const e = z.map((v) => Math.exp(v - max));
    const sum = e.reduce((a, b) => a + b, 0);
    e.forEach((v, i) => expect(probabilities[i]).toBeCloseTo(v / sum, 5));
    await s.close();
  });

  it('refuses a non-positive temperature (misuse)', () => {
    expect(() => exportOnnx(model, { temperature: 0 })).toThrow(expect.objectContaining({ code: 'ONNX_EXPORT_UNSUPPORTED' }));
  });
});
