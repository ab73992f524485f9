import * as tf from '@tensorflow/tfjs';
import { createModel, DEFAULT_PARAM_COUNT, LAYER_NAMES, logitsModel, resolveModelConfig } from '../../src/model/create-model';

beforeAll(async () => { await tf.setBackend('cpu'); });

describe('createModel', () => {
  it('builds the spec network: names, shapes and 25,927,246 parameters', () => {
    const model = createModel();
    expect(model.countParams()).toBe(DEFAULT_PARAM_COUNT);
    const names = model.layers.map((l) => l.name);
    for (const n of LAYER_NAMES) expect(names).toContain(n);
    const shape = (n: string) => model.getLayer(n).outputShape;
    expect(shape('conv1')).toEqual([null, 28, 28, 32]);
    expect(shape('pool1')).toEqual([null, 14, 14, 32]);
    expect(shape('conv3_1')).toEqual([null, 7, 7, 256]);
    expect(shape('conv3_2')).toEqual([null, 7, 7, 256]);
    expect(shape('conv3')).toEqual([null, 7, 7, 512]);
    expect(shape('fc1')).toEqual([null, 1000]);
    expect(shape('fc2')).toEqual([null, 500]);
    expect(shape('output')).toEqual([null, 10]);
    // Both branches read the pooled conv1.
    const inbound = (n: string) => (model.getLayer(n) as unknown as { inboundNodes: Array<{ inboundLayers: Array<{ name: string }> }> })
      .inboundNodes[0].inboundLayers.map((l) => l.name);
    expect(inbound('conv2_1')).toEqual(['pool1']);
    expect(inbound('conv2_2')).toEqual(['pool1']);
    expect(inbound('conv3')).toEqual(['conv3_1', 'conv3_2']);
    model.dispose();
  });

  it('is deterministic for a seed and outputs probabilities; logitsModel shares the weights', () => {
    const config = { conv1Filters: 4, conv2Filters: 4, conv3Filters: 4, fc1Units: 8, fc2Units: 8, seed: 5 };
    const a = createModel(config);
    const b = createModel(config);
    const x = tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 1);
    const pa = a.predict(x) as tf.Tensor;
    expect(Array.from(pa.dataSync())).toEqual(Array.from((b.predict(x) as tf.Tensor).dataSync()));
    const sums = pa.sum(1).dataSync();
    sums.forEach((s) => expect(s).toBeCloseTo(1, 5));
    const logits = logitsModel(a).predict(x) as tf.Tensor;
    expect(tf.softmax(logits).sub(pa).abs().max().dataSync()[0]).toBeLessThan(1e-6);
  });

  it('rejects unknown keys and bad sizes with CONFIG_INVALID (misuse)', () => {
    expect(() => resolveModelConfig({ fc3Units: 4 } as never)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => resolveModelConfig({ fc1Units: 0 })).toThrow(/'fc1Units' must be a positive integer/);
    expect(() => resolveModelConfig({ dropout: 1 })).toThrow(/dropout/);
  });
});
