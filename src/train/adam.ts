/** Adam's hyper-parameters (Kingma & Ba), the defaults of tf.train.adam. */
export const ADAM = Object.freeze({ beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });

/**
 * One Adam step over params[lo, hi), in place. The gradient is Σ scales[k] · grads[k] (each worker's
 * mean gradient weighted by its share of the batch). `t` counts from 1.
 */
export function adamShardUpdate(
  params: Float32Array, m: Float32Array, v: Float32Array, grads: Float32Array[], scales: number[],
  lo: number, hi: number, lr: number, t: number,
): void {
  const { beta1, beta2, epsilon } = ADAM;
  const step = (lr * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t);
  const eps = epsilon * Math.sqrt(1 - beta2 ** t);
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  // Sum the slots into the first one's range first, so the update loop is one monomorphic pass.
  const g = grads[0];
  const s0 = scales[0];
  if (grads.length === 2) {
    const g1 = grads[1];
    const s1 = scales[1];
    for (let i = lo; i < hi; i++) g[i] = s0 * g[i] + s1 * g1[i];
  } else {
    for (let i = lo; i < hi; i++) g[i] *= s0;
    for (let k = 1; k < grads.length; k++) {
      const gk = grads[k];
      const sk = scales[k];
      for (let i = lo; i < hi; i++) g[i] += sk * gk[i];
    }
  }
  for (let i = lo; i < hi; i++) {
    const gi = g[i];
    const mi = beta1 * m[i] + c1 * gi;
    const vi = beta2 * v[i] + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    params[i] -= (step * mi) / (Math.sqrt(vi) + eps);
  }
}
