import { onnx } from 'onnx-proto';
import { GraphBuilder, ONNX_IR_VERSION, ONNX_OPSET } from '../../src/onnx/graph-builder';
import { openSession } from '../../src/onnx/ort-session';

function tiny(): GraphBuilder {
  const g = new GraphBuilder('tiny');
  g.input('image', 'float32', ['N', 1, 28, 28]);
  return g;
}

describe('GraphBuilder validation (coded errors naming the node)', () => {
  it('rejects a node reading a value nothing produces', () => {
    const g = tiny();
    expect(() => g.node('Relu', 'r', ['nope'], ['y'])).toThrow(expect.objectContaining({ code: 'ONNX_GRAPH_INVALID', message: expect.stringMatching(/node 'r' \(Relu\) reads 'nope'/) }));
  });

  it('rejects duplicate node names and duplicate value names', () => {
    const g = tiny();
    g.node('Relu', 'r', ['image'], ['y']);
    expect(() => g.node('Relu', 'r', ['y'], ['z'])).toThrow(/node name 'r' is used twice/);
    expect(() => g.node('Relu', 'r2', ['image'], ['y'])).toThrow(/value name 'y'.*defined twice/);
  });

  it('rejects inconsistent shapes, naming the node', () => {
    const g = tiny();
    g.initializer('w', new Float32Array(2 * 3 * 3 * 3), [2, 3, 3, 3]);
    expect(() => g.node('Conv', 'conv1', ['image', 'w'], ['c'], { kernel_shape: [3, 3] })).toThrow(/node 'conv1' \(Conv\): input has 1 channels, weights expect 3/);
    const h = tiny();
    h.node('Flatten', 'flat', ['image'], ['f'], { axis: 1 });
    h.initializer('fcw', new Float32Array(10 * 4), [10, 4]);
    expect(() => h.node('Gemm', 'fc1', ['f', 'fcw'], ['y'])).toThrow(/node 'fc1' \(Gemm\): inner dimensions 784 and 10 differ/);
  });

  it('rejects unused initializers, missing outputs and unknown operators', () => {
    const g = tiny();
    g.initializer('unused', new Float32Array(1), [1]);
    g.node('Relu', 'r', ['image'], ['y']);
    g.output('y');
    expect(() => g.toBytes({ producerName: 't', producerVersion: '0' })).toThrow(/initializer 'unused' is not read/);
    expect(() => g.output('ghost')).toThrow(/graph output 'ghost'/);
    expect(() => g.node('LSTM', 'l', ['image'], ['z'])).toThrow(/operator not supported/);
    expect(() => g.initializer('bad', new Float32Array(3), [2, 2])).toThrow(/3 values for shape \[2,2\]/);
  });

  it('encodes a model onnxruntime loads, with the IR version, opset and metadata we set', async () => {
    const g = tiny();
    g.node('Flatten', 'flat', ['image'], ['f'], { axis: 1 });
    g.initializer('w', Float32Array.from({ length: 784 * 10 }, (_, i) => (i % 7) / 100), [784, 10]);
    g.initializer('b', new Float32Array(10), [10]);
    g.node('Gemm', 'output', ['f', 'w', 'b'], ['logits']);
    g.node('Softmax', 'output/softmax', ['logits'], ['probabilities'], { axis: 1 });
    g.output('probabilities');
    g.output('logits');
    const bytes = g.toBytes({ producerName: 'test', producerVersion: '9', metadata: { k: 'v' } });
    const decoded = onnx.ModelProto.decode(bytes);
    expect(Number(decoded.irVersion)).toBe(ONNX_IR_VERSION);
    expect(Number(decoded.opsetImport[0].version)).toBe(ONNX_OPSET);
    expect(decoded.metadataProps.map((p) => [p.key, p.value])).toEqual([['k', 'v']]);
    const s = await openSession(bytes);
    const out = await s.run(new Float32Array(2 * 784).fill(0.5), 2);
    expect(out.probabilities.length).toBe(20);
    expect(out.probabilities.slice(0, 10).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    await s.close();
  });
});
