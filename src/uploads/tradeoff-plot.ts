import type { ScoreSample } from './evaluate-uploads';

const W = 560, H = 380, L = 60, R = 20, T = 30, B = 50;

/**
 * An SVG of the trade-off as the digit-score line moves: digit uploads kept (x) against non-digit marks
 * refused (y), one curve for the tuned families and one for the held-out ones, the line in use marked.
 */
export function tradeoffPlot(scores: ScoreSample, line: number): string {
  const kept = (t: number) => scores.digits.filter((s) => s >= t).length / scores.digits.length;
  const refused = (xs: number[], t: number) => (xs.length ? xs.filter((s) => s < t).length / xs.length : NaN);
  const xMin = 0.9;
  const px = (k: number) => L + ((k - xMin) / (1 - xMin)) * (W - L - R);
  const py = (r: number) => T + (1 - r) * (H - T - B);
  const lines = [...new Set([...scores.digits, ...scores.tuned, ...scores.heldOut, 0, 1.0000001])].sort((a, b) => a - b);
  const curve = (xs: number[], colour: string, name: string) => {
    const pts = lines.map((t) => [kept(t), refused(xs, t)]).filter(([k, r]) => k >= xMin && !Number.isNaN(r));
    const d = pts.map(([k, r], i) => `${i ? 'L' : 'M'}${px(k).toFixed(1)},${py(r).toFixed(1)}`).join(' ');
    const at = [kept(line), refused(xs, line)];
    return `<path d="${d}" fill="none" stroke="${colour}" stroke-width="2"/>`
      + `<circle cx="${px(at[0]).toFixed(1)}" cy="${py(at[1]).toFixed(1)}" r="5" fill="${colour}"/>`
      + `<text x="${(px(at[0]) - 8).toFixed(1)}" y="${(py(at[1]) - 8).toFixed(1)}" text-anchor="end" font-size="12" fill="${colour}">${name}: ${(100 * at[1]).toFixed(1)}% refused, ${(100 * at[0]).toFixed(2)}% of digits kept</text>`;
  };
  const ticksX = [0.9, 0.92, 0.94, 0.96, 0.98, 1].map((k) => `<line x1="${px(k)}" x2="${px(k)}" y1="${H - B}" y2="${H - B + 5}" stroke="#333"/><text x="${px(k)}" y="${H - B + 18}" text-anchor="middle" font-size="11">${(100 * k).toFixed(0)}%</text>`).join('');
  const ticksY = [0, 0.25, 0.5, 0.75, 1].map((r) => `<line x1="${L - 5}" x2="${W - R}" y1="${py(r)}" y2="${py(r)}" stroke="#ddd"/><text x="${L - 8}" y="${py(r) + 4}" text-anchor="end" font-size="11">${(100 * r).toFixed(0)}%</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">`
    + `<rect width="${W}" height="${H}" fill="#fff"/>${ticksY}${ticksX}`
    + `<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#333"/><line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#333"/>`
    + `<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle" font-size="12">digit uploads kept (${scores.digits.length})</text>`
    + `<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle" font-size="12">marks that are not digits refused</text>`
    + `<text x="${L}" y="18" font-size="13">Digit score line at ${line}: tuned families (${scores.tuned.length}) and held-out families (${scores.heldOut.length})</text>`
    + curve(scores.tuned, '#1f77b4', 'tuned') + curve(scores.heldOut, '#d62728', 'held out')
    + '</svg>\n';
}
