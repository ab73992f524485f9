import { Dataset, IMAGE_SIZE, loadMnist, PIXELS } from '../../src/data/mnist';
import type { Bitmap } from '../../src/image/bitmap';
import { findInk, textParts } from '../../src/image/find-digit';
import { createPreprocessor } from '../../src/image/preprocess';
import { correlation, mnistBitmap } from '../helpers/images';

let test: Dataset;
beforeAll(async () => { test = (await loadMnist()).test; });
const original = (i: number) => Float32Array.from(test.images.subarray(i * PIXELS, (i + 1) * PIXELS), (v) => v / 255);
const preprocessor = createPreprocessor();

/** Sets pixel (x, y) of an RGBA bitmap to grey `g`. */
function put(b: Bitmap, x: number, y: number, g: number): void {
  b.data.set([g, g, g, 255], (y * b.width + x) * 4);
}

/** Digit `i`, dark on white, scaled by `scale` and cut to its ink: strokes touch every edge. */
function tightCrop(i: number, scale: number): Bitmap {
  let x0 = IMAGE_SIZE, y0 = IMAGE_SIZE, x1 = 0, y1 = 0;
  for (let y = 0; y < IMAGE_SIZE; y++) for (let x = 0; x < IMAGE_SIZE; x++) {
    if (test.images[i * PIXELS + y * IMAGE_SIZE + x] < 30) continue;
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  }
  const w = (x1 - x0 + 1) * scale, h = (y1 - y0 + 1) * scale;
  const b: Bitmap = { width: w, height: h, data: new Uint8Array(w * h * 4) };
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) put(b, x, y, 255 - test.images[i * PIXELS + (y0 + Math.floor(y / scale)) * IMAGE_SIZE + x0 + Math.floor(x / scale)]);
  return b;
}

describe('layout candidates', () => {
  it('reads a tight crop whose strokes touch the edges as the whole picture', () => {
    const { alternatives } = preprocessor.run(tightCrop(0, 6));
    const tight = alternatives!.find((a) => a.kind === 'tight');
    expect(tight).toBeDefined();
    expect(tight!.inverted).toBe(true);
    expect(correlation(tight!.input, original(0))).toBeGreaterThan(0.8);
  });

  it('finds a light sheet on a darker desk and reads the digit on it, not the sheet', () => {
    // A 300×240 desk at grey 90; a 150×150 sheet at (70, 40) holding digit 3 dark on white, 4× (112 px).
    const b = mnistBitmap(test.images, 3, { invert: true, scale: 4, canvas: 300, offset: [89, 59] });
    for (let y = 0; y < 300; y++) for (let x = 0; x < 300; x++) {
      const onSheet = x >= 70 && x < 220 && y >= 40 && y < 190;
      if (!onSheet) put(b, x, y, 90);
      else if (x < 89 || x >= 201 || y < 59 || y >= 171) put(b, x, y, 255);
    }
    const { alternatives } = preprocessor.run(b);
    const sheet = alternatives!.find((a) => a.kind === 'sheet');
    expect(sheet).toBeDefined();
    expect(sheet!.inverted).toBe(true); // dark ink on the sheet, as the tight crop's is
    expect(correlation(sheet!.input, original(3))).toBeGreaterThan(0.8);
    // The box is the digit's, inside the sheet.
    expect(sheet!.box.x).toBeGreaterThanOrEqual(89);
    expect(sheet!.box.x + sheet!.box.width).toBeLessThanOrEqual(202);
    // The sheet itself, to within the coarse copy's pixel (what lies outside it is the desk).
    const s = sheet!.sheet!;
    for (const [got, want] of [[s.x, 70], [s.y, 40], [s.x + s.width, 220], [s.y + s.height, 190]]) expect(Math.abs(got - want)).toBeLessThanOrEqual(3);
  });

  it('drops a printed box around the digit and keeps what is inside it', () => {
    // A white 240×240 page, a 3-px black frame from 40 to 200, digit 7 (test index 0) 4× inside.
    const b = mnistBitmap(test.images, 0, { invert: true, scale: 4, canvas: 240, offset: [64, 64] });
    for (let y = 0; y < 240; y++) for (let x = 0; x < 240; x++) {
      if (x < 64 || x >= 176 || y < 64 || y >= 176) put(b, x, y, 255);
      const edge = (d: number) => d >= 40 && d < 43 || d > 197 && d <= 200;
      if ((edge(x) && y >= 40 && y <= 200) || (edge(y) && x >= 40 && x <= 200)) put(b, x, y, 0);
    }
    const { alternatives } = preprocessor.run(b);
    const frame = alternatives!.find((a) => a.kind === 'frame');
    expect(frame).toBeDefined();
    expect(frame!.inverted).toBe(true);
    expect(correlation(frame!.input, original(0))).toBeGreaterThan(0.8);
  });

  it('takes a printed box off a digit that touches it, keeping the digit', () => {
    // Digit 7 (test index 0) 4× on a white page, a 3-px black frame whose top line runs into the 7's bar.
    const b = mnistBitmap(test.images, 0, { invert: true, scale: 4, canvas: 240, offset: [64, 64] });
    let top = 0;
    while (!test.images.subarray(top * IMAGE_SIZE, (top + 1) * IMAGE_SIZE).some((v) => v >= 128)) top++;
    const y0 = 64 + 4 * top - 2;
    for (let y = 0; y < 240; y++) for (let x = 0; x < 240; x++) {
      if (x < 64 || x >= 176 || y < 64 || y >= 176) put(b, x, y, 255);
      const onSide = (x >= 40 && x <= 200 && (y >= y0 && y < y0 + 3 || y > 197 && y <= 200)) || (y >= y0 && y <= 200 && (x >= 40 && x < 43 || x > 197 && x <= 200));
      if (onSide) put(b, x, y, 0);
    }
    const { alternatives } = preprocessor.run(b);
    const frame = alternatives!.find((a) => a.kind === 'frame');
    expect(frame).toBeDefined();
    expect(correlation(frame!.input, original(0))).toBeGreaterThan(0.8);
    expect(frame!.box.width).toBeLessThan(120); // the 7, not the box (161 wide)
  });

  it('reads a digit beside a row of printed letters without them, and not the whole page as one crop', () => {
    // Digit 7 (test index 0) 4× on a white 300×300 page; on its line, to its left, a row of nine printed
    // letters (2-px rings 9×14) ending 11 px before its ink, close enough for the page pipeline to join.
    const b = mnistBitmap(test.images, 0, { invert: true, scale: 4, canvas: 300, offset: [150, 80] });
    for (let k = 0; k < 9; k++) {
      const x0 = 42 + k * 14, y0 = 146;
      for (let y = y0; y < y0 + 14; y++) for (let x = x0; x < x0 + 9; x++) {
        if (x < x0 + 2 || x >= x0 + 7 || y < y0 + 2 || y >= y0 + 12) put(b, x, y, 0);
      }
    }
    const { box, alternatives } = preprocessor.run(b);
    expect(box!.x).toBeLessThan(150); // the page's crop holds letters
    expect(alternatives!.some((a) => a.kind === 'tight')).toBe(false);
    const print = alternatives!.find((a) => a.kind === 'print');
    expect(print).toBeDefined();
    expect(print!.box.x).toBeGreaterThanOrEqual(160);
    expect(correlation(print!.input, original(0))).toBeGreaterThan(0.8);
  });

  it('takes no digit of a number for printed text', () => {
    // Three digits side by side (test indices 0, 1, 2 at 3×): as tall as each other, so no row of letters.
    const b = mnistBitmap(test.images, 0, { invert: true, scale: 3, canvas: 300, offset: [20, 100] });
    for (const [k, at] of [[1, 110], [2, 200]]) {
      const d = mnistBitmap(test.images, k, { invert: true, scale: 3, canvas: 84 });
      for (let y = 0; y < 84; y++) for (let x = 0; x < 84; x++) put(b, at + x, 100 + y, d.data[(y * 84 + x) * 4]);
    }
    const lum = Float32Array.from({ length: 300 * 300 }, (_, i) => b.data[i * 4]);
    const page = findInk(lum, 300, 300);
    expect(page.parts.length).toBeGreaterThanOrEqual(3);
    expect(textParts(page.parts).size).toBe(0);
  });

  it('offers none of them for a 28×28 picture, which has its own whole readings', () => {
    expect(preprocessor.run(mnistBitmap(test.images, 0, { invert: true })).alternatives).toBeUndefined();
  });
});
