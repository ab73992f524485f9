import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMnist, PIXELS } from '../../src/data/mnist';
import { composePair, encodeOutlierMarks, readOutlierMarks } from '../../src/data/outliers';
import { createRng } from '../../src/data/rng';

function inkBox(img: Uint8Array) {
  let x0 = 28, y0 = 28, x1 = -1, y1 = -1, mass = 0, mx = 0, my = 0;
  img.forEach((v, i) => {
    if (v <= 20) return;
    const x = i % 28, y = Math.floor(i / 28);
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    mass += v; mx += v * x; my += v * y;
  });
  return { width: x1 - x0 + 1, height: y1 - y0 + 1, cx: mx / mass, cy: my / mass };
}

describe('outliers for outlier exposure', () => {
  it('a pair is two digits side by side squeezed into one 20 px box, centred by mass; the same generator gives the same pair', async () => {
    const { train } = await loadMnist();
    const zeros = [...train.labels.keys()].filter((i) => train.labels[i] === 0).slice(0, 2);
    const a = new Uint8Array(PIXELS), b = new Uint8Array(PIXELS);
    composePair(train.images, zeros[0], zeros[1], createRng(3), a);
    composePair(train.images, zeros[0], zeros[1], createRng(3), b);
    expect(b).toEqual(a);
    const box = inkBox(a);
    // Two round digits next to each other: wider than high, the width being the box's 20 px.
    expect(box.width).toBeGreaterThanOrEqual(19);
    expect(box.width).toBeLessThanOrEqual(21);
    expect(box.height).toBeLessThan(box.width * 0.8);
    expect(Math.abs(box.cx - 13.5)).toBeLessThan(1.5);
    expect(Math.abs(box.cy - 13.5)).toBeLessThan(1.5);
  });

  it('reads back the mark file it writes, and refuses a missing or foreign file (TRAIN_OUTLIERS_MISSING)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'outliers-'));
    const marks = Uint8Array.from({ length: 3 * PIXELS }, (_, i) => i % 251);
    writeFileSync(join(dir, 'marks.bin'), encodeOutlierMarks(marks));
    expect(readOutlierMarks(join(dir, 'marks.bin'))).toEqual(marks);
    expect(() => readOutlierMarks(join(dir, 'none.bin'))).toThrow(expect.objectContaining({ code: 'TRAIN_OUTLIERS_MISSING' }));
    writeFileSync(join(dir, 'foreign.bin'), marks);
    expect(() => readOutlierMarks(join(dir, 'foreign.bin'))).toThrow(expect.objectContaining({ code: 'TRAIN_OUTLIERS_MISSING' }));
  });
});
