import { createRng } from '../../src/data/rng';
import { addDigitScoreHead, addScoreHead, DIGIT_SCORE_OUTPUT, digitScoreInfo, fitScoreHead, headLogits, lowerQuantile, PAIR_SCORE_HEAD, PAIR_SCORE_OUTPUT, scoreHeadInfo, withOutputs } from '../../src/onnx/digit-score';
import { GraphBuilder } from '../../src/onnx/graph-builder';
import { openSession } from '../../src/onnx/ort-session';

const D = 6; // fc1 width of the small graph

/** image → flatten → fc1 (D, ReLU, as `fc1/out`) → logits → probabilities: the names the head relies on. */
function smallModel(): Uint8Array {
  const rng = createRng(3);
  const g = new GraphBuilder('small');
  g.input('image', 'float32', ['N', 1, 28, 28]);
  g.node('Flatten', 'flat', ['image'], ['flat'], { axis: 1 });
  g.initializer('fc1.w', Float32Array.from({ length: 784 * D }, () => rng.uniform(-0.1, 0.1)), [784, D]);
  g.initializer('fc1.b', new Float32Array(D).fill(0.1), [D]);
  g.node('Gemm', 'fc1', ['flat', 'fc1.w', 'fc1.b'], ['fc1/linear']);
  g.node('Relu', 'fc1/relu', ['fc1/linear'], ['fc1/out']);
  g.initializer('out.w', Float32Array.from({ length: D * 10 }, () => rng.uniform(-1, 1)), [D, 10]);
  g.initializer('out.b', new Float32Array(10), [10]);
  g.node('Gemm', 'output', ['fc1/out', 'out.w', 'out.b'], ['logits']);
  g.node('Softmax', 'softmax', ['logits'], ['probabilities'], { axis: 1 });
  g.output('probabilities');
  g.output('logits');
  return g.toBytes({ producerName: 'test', producerVersion: '0' });
}

/** Two clouds of D features: digits fire the first half, non-digits the second. */
function clouds(n: number, seed: number): { digits: Float32Array; nonDigits: Float32Array } {
  const rng = createRng(seed);
  const make = (first: boolean) => Float32Array.from({ length: n * D }, (_, k) => Math.max(0, ((k % D < D / 2) === first ? 2 : 0) + rng.uniform(-1, 1)));
  return { digits: make(true), nonDigits: make(false) };
}

describe('digit-score head', () => {
  it('learns to tell two feature clouds apart, the same head from the same data', () => {
    const { digits, nonDigits } = clouds(200, 1);
    const head = fitScoreHead(digits, nonDigits, D, { hidden: 4, epochs: 20, batchSize: 32, learningRate: 0.01 });
    const test = clouds(100, 2);
    const right = Array.from(headLogits(head, test.digits)).filter((l) => l > 0).length + Array.from(headLogits(head, test.nonDigits)).filter((l) => l < 0).length;
    expect(right).toBeGreaterThanOrEqual(190);
    const again = fitScoreHead(digits, nonDigits, D, { hidden: 4, epochs: 20, batchSize: 32, learningRate: 0.01 });
    expect(Array.from(again.w1)).toEqual(Array.from(head.w1));
    expect(again.b2).toBe(head.b2);
  });

  it('refuses rows that do not fit the feature width, or an empty class', () => {
    expect(() => fitScoreHead(new Float32Array(7), new Float32Array(6), D)).toThrow(/whole rows/);
    expect(() => fitScoreHead(new Float32Array(0), new Float32Array(6), D)).toThrow(/both kinds/);
  });

  it('places the line at a share of the lower tail', () => {
    const logits = Array.from({ length: 1000 }, (_, i) => i);
    expect(lowerQuantile(logits, 0.001)).toBe(1);
    expect(lowerQuantile(logits, 0)).toBe(0);
  });

  it('adds the head to a graph: onnxruntime computes sigmoid of the logits headLogits gives; a second head replaces the first', async () => {
    const { digits, nonDigits } = clouds(50, 4);
    const head = fitScoreHead(digits, nonDigits, D, { hidden: 3, epochs: 2 });
    const model = addDigitScoreHead(addDigitScoreHead(smallModel(), { ...head, b2: head.b2 + 5, info: { first: true } }), { ...head, info: { line: 0.5 } });
    expect(digitScoreInfo(model)).toEqual({ line: 0.5 });
    const session = await openSession(withOutputs(model, [['fc1/out', D]]));
    expect(session.outputNames).toEqual(expect.arrayContaining(['probabilities', 'logits', DIGIT_SCORE_OUTPUT, 'fc1/out']));
    const rng = createRng(5);
    const images = Float32Array.from({ length: 3 * 784 }, () => rng.next());
    const out = await session.run(images, 3);
    const expected = Array.from(headLogits(head, out.outputs['fc1/out']), (l) => 1 / (1 + Math.exp(-l)));
    expect(out.digitScores).toHaveLength(3);
    Array.from(out.digitScores!).forEach((s, i) => expect(s).toBeCloseTo(expected[i], 5));
    await session.close();
  });

  it('keeps a pair-score head beside the digit-score head: each its own output, and each replaced only by its own kind', async () => {
    const { digits, nonDigits } = clouds(50, 6);
    const head = fitScoreHead(digits, nonDigits, D, { hidden: 3, epochs: 2 });
    const pair = { ...head, b2: head.b2 - 3 };
    let model = addScoreHead(addDigitScoreHead(smallModel(), { ...head, info: { kind: 'digit' } }), { ...pair, b2: 40, info: { kind: 'old pair' } }, PAIR_SCORE_HEAD);
    model = addScoreHead(model, { ...pair, info: { kind: 'pair' } }, PAIR_SCORE_HEAD);
    expect(digitScoreInfo(model)).toEqual({ kind: 'digit' });
    expect(scoreHeadInfo(model, PAIR_SCORE_HEAD)).toEqual({ kind: 'pair' });
    const session = await openSession(withOutputs(model, [['fc1/out', D]]));
    expect(session.outputNames.filter((n) => n === PAIR_SCORE_OUTPUT || n === DIGIT_SCORE_OUTPUT).sort()).toEqual([DIGIT_SCORE_OUTPUT, PAIR_SCORE_OUTPUT]);
    const rng = createRng(7);
    const out = await session.run(Float32Array.from({ length: 2 * 784 }, () => rng.next()), 2);
    const sigmoid = (l: number) => 1 / (1 + Math.exp(-l));
    const fc1 = out.outputs['fc1/out'];
    Array.from(out.digitScores!).forEach((s, i) => expect(s).toBeCloseTo(sigmoid(headLogits(head, fc1)[i]), 5));
    Array.from(out.pairScores!).forEach((s, i) => expect(s).toBeCloseTo(sigmoid(headLogits(pair, fc1)[i]), 5));
    await session.close();
  });

  it('names what is missing: a model without fc1/out, or an output no node makes', () => {
    const g = new GraphBuilder('no-fc1');
    g.input('image', 'float32', ['N', 1, 28, 28]);
    g.node('Flatten', 'flat', ['image'], ['flat'], { axis: 1 });
    g.output('flat');
    const bytes = g.toBytes({ producerName: 'test', producerVersion: '0' });
    const head = { w1: new Float32Array(D), b1: new Float32Array(1), w2: new Float32Array(1), b2: 0 };
    expect(() => addDigitScoreHead(bytes, head)).toThrow(expect.objectContaining({ code: 'MODEL_INVALID', message: expect.stringMatching(/fc1\/out/) }));
    expect(() => withOutputs(bytes, [['nowhere', 3]])).toThrow(/no node produces 'nowhere'/);
    expect(digitScoreInfo(bytes)).toBeUndefined();
  });
});
