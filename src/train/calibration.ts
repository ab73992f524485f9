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
