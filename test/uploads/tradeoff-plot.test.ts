import { tradeoffPlot } from '../../src/uploads/tradeoff-plot';

describe('tradeoffPlot', () => {
  it('marks the line in use with the shares it gives: digits kept at or above it, marks refused below it', () => {
    const svg = tradeoffPlot({ digits: [0.99, 0.95, 0.3], tuned: [0.1, 0.7], heldOut: [0.2, 0.4, 0.45, 0.9] }, 0.5);
    expect(svg).toMatch(/^<svg [^>]*>/);
    expect(svg).toContain('tuned: 50.0% refused, 66.67% of digits kept');
    expect(svg).toContain('held out: 75.0% refused, 66.67% of digits kept');
    expect(svg).toContain('digit uploads kept (3)');
    expect(svg).toContain('tuned families (2) and held-out families (4)');
  });

  it('draws a family set with no scores without a curve point for it', () => {
    const svg = tradeoffPlot({ digits: [0.9, 0.8], tuned: [0.1], heldOut: [] }, 0.5);
    expect(svg).toContain('tuned: 100.0% refused, 100.00% of digits kept');
    expect(svg).toContain('held out: NaN% refused');
  });
});
