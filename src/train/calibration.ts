import { nll } from '../metrics/classification';

/** The temperature minimising validation NLL (golden-section search on log T in [0.05, 20]). */
export function fitTemperature(logits: Float32Array, labels: ArrayLike<number>): number {
  let lo = Math.log(0.05);
  let hi = Math.log(20);
  const g = (Math.sqrt(5) - 1) / 2;
  const f = (t: number) => nll(logits, labels, Math.exp(t));
  let a = hi - g * (hi - lo);
  let b = lo + g * (hi - lo);
  let fa = f(a);
  let fb = f(b);
  for (let i = 0; i < 60; i++) {
    if (fa < fb) { hi = b; b = a; fb = fa; a = hi - g * (hi - lo); fa = f(a); }
    else { lo = a; a = b; fa = fb; b = lo + g * (hi - lo); fb = f(b); }
  }
  return Math.exp((lo + hi) / 2);
}

/**
 * Logistic regression: the weights w for which σ(w · x) best predicts `right` (log-loss, a small ridge
 * against separable data), by Newton's method. `x` rows hold the features, a constant 1 among them for
 * a bias; `start` is where Newton begins (the identity map, for a calibration).
 */
export function fitLogistic(x: readonly (readonly number[])[], right: readonly boolean[], start: readonly number[], ridge = 1e-3, iterations = 50): number[] {
  const d = start.length;
  let w = [...start];
  for (let it = 0; it < iterations; it++) {
    const grad = new Array<number>(d).fill(0);
    const hess = Array.from({ length: d }, () => new Array<number>(d).fill(0));
    x.forEach((row, i) => {
      const p = 1 / (1 + Math.exp(-row.reduce((s, v, j) => s + v * w[j], 0)));
      for (let a = 0; a < d; a++) {
        grad[a] += (p - (right[i] ? 1 : 0)) * row[a];
        for (let b = 0; b < d; b++) hess[a][b] += p * (1 - p) * row[a] * row[b];
      }
    });
    for (let a = 0; a < d; a++) { grad[a] += ridge * w[a]; hess[a][a] += ridge; }
    const step = solve(hess, grad);
    w = w.map((v, a) => v - step[a]);
    if (Math.max(...step.map(Math.abs)) < 1e-10) break;
  }
  return w;
}

/** x with a x = b, by Gaussian elimination with partial pivoting (a small dense system). */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length, m = a.map((row, i) => [...row, b[i]]);
  for (let i = 0; i < n; i++) {
    let pivot = i;
    for (let r = i + 1; r < n; r++) if (Math.abs(m[r][i]) > Math.abs(m[pivot][i])) pivot = r;
    [m[i], m[pivot]] = [m[pivot], m[i]];
    for (let r = 0; r < n; r++) {
      if (r === i) continue;
      const f = m[r][i] / m[i][i];
      for (let c = i; c <= n; c++) m[r][c] -= f * m[i][c];
    }
  }
  return m.map((row, i) => row[n] / row[i]);
}
