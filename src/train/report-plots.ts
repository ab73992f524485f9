import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TrainingReport } from './trainer';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function polyline(points: Array<[number, number]>, color: string): string {
  return `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}"/>`;
}

interface Series { name: string; color: string; values: Array<[number, number]> }

function chart(title: string, series: Series[], x0: number, y0: number, w: number, h: number, xLabel: string): string {
  const all = series.flatMap((s) => s.values);
  if (all.length === 0) return '';
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const [xmin, xmax] = [Math.min(...xs), Math.max(...xs, Math.min(...xs) + 1)];
  let [ymin, ymax] = [Math.min(...ys), Math.max(...ys)];
  if (ymax - ymin < 1e-9) { ymin -= 0.5; ymax += 0.5; }
  const sx = (x: number) => x0 + 50 + ((x - xmin) / (xmax - xmin)) * (w - 60);
  const sy = (y: number) => y0 + h - 30 - ((y - ymin) / (ymax - ymin)) * (h - 60);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((t) => ymin + t * (ymax - ymin));
  return [
    `<text x="${x0 + w / 2}" y="${y0 + 16}" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
    `<rect x="${x0 + 50}" y="${y0 + 30}" width="${w - 60}" height="${h - 60}" fill="none" stroke="#999"/>`,
    ...ticks.map((t) => `<text x="${x0 + 46}" y="${sy(t) + 4}" text-anchor="end" font-size="10">${t.toPrecision(3)}</text>`),
    `<text x="${x0 + w / 2}" y="${y0 + h - 8}" text-anchor="middle" font-size="11">${esc(xLabel)}</text>`,
    ...series.map((s) => polyline(s.values.map(([x, y]) => [sx(x), sy(y)]), s.color)),
    ...series.map((s, i) => `<text x="${x0 + 60}" y="${y0 + 46 + i * 14}" font-size="11" fill="${s.color}">${esc(s.name)}</text>`),
  ].join('\n');
}

/** Training curves as SVG: per-step loss, per-epoch train/validation loss and accuracy. */
export function trainingCurvesSvg(report: TrainingReport): string {
  const smooth: Array<[number, number]> = [];
  const k = 20;
  for (let i = 0; i < report.stepLosses.length; i += Math.max(1, Math.floor(k / 2))) {
    const win = report.stepLosses.slice(Math.max(0, i - k + 1), i + 1);
    smooth.push([i + 1, win.reduce((a, b) => a + b, 0) / win.length]);
  }
  const e = report.epochs;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="360" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
${chart('training loss per step (moving average of 20)', [{ name: 'train loss', color: '#1f77b4', values: smooth }], 0, 0, 400, 360, 'step')}
${chart('loss per epoch', [
    { name: 'train', color: '#1f77b4', values: e.map((r) => [r.epoch, r.trainLoss]) },
    { name: 'validation', color: '#d62728', values: e.map((r) => [r.epoch, r.valLoss]) },
  ], 400, 0, 400, 360, 'epoch')}
${chart('accuracy per epoch (%)', [
    { name: 'train (augmented)', color: '#1f77b4', values: e.map((r) => [r.epoch, r.trainAccuracy * 100]) },
    { name: 'validation', color: '#d62728', values: e.map((r) => [r.epoch, r.valAccuracy * 100]) },
  ], 800, 0, 400, 360, 'epoch')}
</svg>`;
}

/** The test-set confusion matrix as SVG (rows: true digit, columns: predicted). */
export function confusionMatrixSvg(confusion: number[][], title: string): string {
  const cell = 40;
  const off = 60;
  const maxOff = Math.max(1, ...confusion.flatMap((row, i) => row.filter((_, j) => j !== i)));
  const cells = confusion.flatMap((row, i) => row.map((v, j) => {
    const shade = i === j ? '#c7e9c0' : v === 0 ? '#ffffff' : `rgba(214,39,40,${(0.15 + 0.85 * v / maxOff).toFixed(2)})`;
    return `<rect x="${off + j * cell}" y="${off + i * cell}" width="${cell}" height="${cell}" fill="${shade}" stroke="#ddd"/>` +
      `<text x="${off + j * cell + cell / 2}" y="${off + i * cell + cell / 2 + 4}" text-anchor="middle" font-size="11">${v}</text>`;
  }));
  const labels = confusion.map((_, i) =>
    `<text x="${off + i * cell + cell / 2}" y="${off - 6}" text-anchor="middle" font-size="12">${i}</text>` +
    `<text x="${off - 8}" y="${off + i * cell + cell / 2 + 4}" text-anchor="end" font-size="12">${i}</text>`);
  const size = off + confusion.length * cell + 20;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size + 20}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${size / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>
<text x="${off + (confusion.length * cell) / 2}" y="${off - 22}" text-anchor="middle" font-size="11">predicted</text>
<text x="14" y="${off + (confusion.length * cell) / 2}" font-size="11" transform="rotate(-90 14 ${off + (confusion.length * cell) / 2})" text-anchor="middle">true</text>
${labels.join('\n')}
${cells.join('\n')}
</svg>`;
}

/** Writes the report JSON and its pictures (training curves, confusion matrix) into `outDir`. */
export function writeTrainingReport(report: TrainingReport, outDir: string): void {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'training-report.json'), JSON.stringify(report, null, 2));
  writeFileSync(join(outDir, 'training-curves.svg'), trainingCurvesSvg(report));
  writeFileSync(join(outDir, 'confusion-matrix.svg'),
    confusionMatrixSvg(report.test.confusion, `test confusion matrix (accuracy ${(report.test.accuracy * 100).toFixed(2)}%)`));
}
