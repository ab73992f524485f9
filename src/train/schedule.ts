/** Learning rate at `step` of `total`: linear warm-up to `peak`, then cosine decay to `peak * minRatio`. */
export function learningRateAt(step: number, total: number, peak: number, warmupSteps: number, minRatio = 0.02): number {
  if (step < warmupSteps) return (peak * (step + 1)) / warmupSteps;
  const progress = Math.min(1, (step - warmupSteps) / Math.max(1, total - warmupSteps));
  return peak * (minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/**
 * Decay of the weights' moving average after `step` (0-based) steps: `decay`, but lower at first
 * ((1 + step) / (10 + step), as TensorFlow's ExponentialMovingAverage with num_updates), so that the
 * average soon leaves the random initial weights behind. 0 when `decay` is 0 (no average).
 */
export function emaDecayAt(step: number, decay: number): number {
  return Math.min(decay, (1 + step) / (10 + step));
}
