import { argmaxRows, createEceAccumulator, eceFloor, evaluateLogits, expectedCalibrationError, nll, softmax } from '../../src/metrics/classification';
import { fitLogistic, fitTemperature } from '../../src/train/calibration';
import { emaDecayAt, learningRateAt } from '../../src/train/schedule';
import { earlyStopping } from '../../src/train/trainer';
import { adamShardUpdate } from '../../src/train/adam';
import { createRng } from '../../src/data/rng';

describe('metrics', () => {
  it('softmax rows sum to 1 and argmax picks the largest', () => {
    const p = softmax(Float32Array.of(1, 2, 3, 0, 0, 0, 0, 0, 0, 9));
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(Array.from(argmaxRows(p))).toEqual([9]);
  });

  it('ECE is 0 for perfectly calibrated confident answers and large for confident wrong ones', () => {
    const confident = new Float32Array(10 * 4);
    [0, 1, 2, 3].forEach((r) => { confident[r * 10 + r] = 1; });
    expect(expectedCalibrationError(confident, [0, 1, 2, 3])).toBeCloseTo(0, 6);
    expect(expectedCalibrationError(confident, [1, 2, 3, 0])).toBeCloseTo(1, 6);
  });

  it('fitTemperature recovers the temperature that generated the labels', () => {
    const rng = createRng(9);
    const n = 4000;
    const logits = new Float32Array(n * 10);
    const labels: number[] = [];
    const trueT = 2.5;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < 10; j++) logits[i * 10 + j] = rng.uniform(-6, 6);
      const p = softmax(logits.subarray(i * 10, i * 10 + 10), trueT);
      let u = rng.next();
      let k = 0;
      while (k < 9 && (u -= p[k]) > 0) k++;
      labels.push(k);
    }
    const t = fitTemperature(logits, labels);
    expect(t).toBeGreaterThan(2.2);
    expect(t).toBeLessThan(2.8);
    expect(nll(logits, labels, t)).toBeLessThan(nll(logits, labels, 1));
  });

  it('fitLogistic recovers the weights that generated the outcomes, and moves off its start', () => {
    const rng = createRng(11);
    const truth = [-0.7, 0.6, 0.15];
    const x: number[][] = [], right: boolean[] = [];
    for (let i = 0; i < 20000; i++) {
      const row = [1, rng.uniform(-6, 9), 2 + rng.int(7)];
      x.push(row);
      right.push(rng.next() < 1 / (1 + Math.exp(-row.reduce((s, v, j) => s + v * truth[j], 0))));
    }
    const w = fitLogistic(x, right, [0, 1, 0]);
    w.forEach((v, j) => expect(Math.abs(v - truth[j])).toBeLessThan(0.08));
  });

  it('eceFloor: no noise for sure answers, less on more answers, whatever their order', () => {
    expect(eceFloor([1, 1, 1, 0, 0])).toBe(0);
    const rng = createRng(5);
    const few = Array.from({ length: 300 }, () => rng.uniform(0.2, 1));
    const many = Array.from({ length: 4800 }, () => rng.uniform(0.2, 1));
    expect(eceFloor(few)).toBeGreaterThan(2 * eceFloor(many));
    expect(eceFloor([...few].reverse())).toBe(eceFloor(few));
    // Answers drawn as calibrated score about the floor.
    const acc = createEceAccumulator();
    for (const c of many) acc.add(c, rng.next() < c);
    expect(acc.value()).toBeLessThan(3 * eceFloor(many));
  });

  it('evaluateLogits fills the confusion matrix and per-class accuracy', () => {
    const logits = new Float32Array(30);
    logits[0 * 10 + 3] = 5; logits[1 * 10 + 3] = 5; logits[2 * 10 + 1] = 5;
    const ev = evaluateLogits(logits, [3, 1, 1]);
    expect(ev.accuracy).toBeCloseTo(2 / 3);
    expect(ev.confusion[1][3]).toBe(1);
    expect(ev.perClassAccuracy[1]).toBeCloseTo(0.5);
  });
});

describe('schedule, early stopping and Adam', () => {
  it('warms up linearly, peaks, and decays by cosine to the floor', () => {
    expect(learningRateAt(0, 1000, 1e-3, 100)).toBeCloseTo(1e-5);
    expect(learningRateAt(99, 1000, 1e-3, 100)).toBeCloseTo(1e-3);
    expect(learningRateAt(550, 1000, 1e-3, 100)).toBeCloseTo(1e-3 * (0.02 + 0.98 * 0.5), 8);
    expect(learningRateAt(1000, 1000, 1e-3, 100)).toBeCloseTo(2e-5);
  });

  it('lets the moving average of the weights follow closely at first, then decay at the rate asked for', () => {
    expect(emaDecayAt(0, 0.999)).toBeCloseTo(0.1);
    expect(emaDecayAt(90, 0.999)).toBeCloseTo(0.91);
    expect(emaDecayAt(100_000, 0.999)).toBe(0.999);
    expect(emaDecayAt(50, 0)).toBe(0); // no average
  });

  it('stops after `patience` epochs without improvement and remembers the best epoch', () => {
    const s = { bestValLoss: Infinity, bestEpoch: -1, badEpochs: 0 };
    expect(earlyStopping(s, 0.5, 1, 2)).toEqual({ improved: true, stop: false });
    expect(earlyStopping(s, 0.4, 2, 2)).toEqual({ improved: true, stop: false });
    expect(earlyStopping(s, 0.45, 3, 2)).toEqual({ improved: false, stop: false });
    expect(earlyStopping(s, 0.41, 4, 2)).toEqual({ improved: false, stop: true });
    expect(s.bestEpoch).toBe(2);
  });

  it('adamShardUpdate matches the textbook update, weighting the slots by their share', () => {
    const p = Float32Array.of(1, 2);
    const m = new Float32Array(2);
    const v = new Float32Array(2);
    adamShardUpdate(p, m, v, [Float32Array.of(1, -2), Float32Array.of(3, 2)], [0.25, 0.75], 0, 2, 0.1, 1);
    // g = 0.25·g0 + 0.75·g1 = [2.5, 1]; the first step moves each weight by lr · sign(g).
    expect(p[0]).toBeCloseTo(0.9, 5);
    expect(p[1]).toBeCloseTo(1.9, 5);
    expect(m[0]).toBeCloseTo(0.25, 6);
  });
});
