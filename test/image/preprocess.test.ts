import { loadMnist, PIXELS, Dataset } from '../../src/data/mnist';
import { createPreprocessor, resample, toLuminance } from '../../src/image/preprocess';
import { otsu } from '../../src/image/find-digit';
import { decodeImage } from '../../src/image/decode';
import { canvasBitmap, correlation, encode, mnistBitmap } from '../helpers/images';
import { createRng } from '../../src/data/rng';
import { digitSampler, uploadSeed } from '../../src/uploads/conditions';
import { renderLayout } from '../../src/uploads/layouts';
import { renderNumberUpload } from '../../src/uploads/numbers';
import { encodeUpload } from '../../src/uploads/evaluate-uploads';

let test: Dataset;
const original = (i: number) => Float32Array.from(test.images.subarray(i * PIXELS, (i + 1) * PIXELS), (v) => v / 255);
const SAMPLE = [0, 1, 2, 3, 4, 7, 11, 18, 61, 99];

beforeAll(async () => { test = (await loadMnist()).test; });

const preprocessor = createPreprocessor();
const preprocess = (b: Parameters<typeof preprocessor.run>[0]) => preprocessor.run(b);

describe('preprocess', () => {
  it('passes every 28×28 MNIST test digit through unchanged', () => {
    let changed = 0;
    for (let i = 0; i < test.count; i++) {
      const { input, info } = preprocess(mnistBitmap(test.images, i));
      const o = original(i);
      if (info.path !== 'passthrough' || input.some((v, k) => Math.abs(v - o[k]) > 1e-7)) changed++;
    }
    expect(changed).toBe(0);
  });

  it('offers a 28×28 picture that is not MNIST-like as it is, in both polarities (its ink\'s first), for the model to weigh', () => {
    // A digit on a lifted (grey) background: not MNIST-like, so the page pipeline reads it, and the
    // picture itself is offered as well.
    const bitmap = mnistBitmap(test.images, 4);
    for (let i = 0; i < bitmap.data.length; i += 4) for (let c = 0; c < 3; c++) bitmap.data[i + c] = Math.min(255, bitmap.data[i + c] + 110);
    const { info, whole } = preprocess(bitmap);
    expect(info.path).toBe('normalized');
    expect(whole).toHaveLength(2);
    const lifted = Float32Array.from(original(4), (v) => Math.min(255, Math.round(v * 255) + 110) / 255);
    expect(whole!.map((r) => r.inverted)).toEqual([false, true]);
    whole![0].input.forEach((v, k) => expect(v).toBeCloseTo(lifted[k], 5));
    whole![1].input.forEach((v, k) => expect(v).toBeCloseTo(1 - lifted[k], 5));
    // Dark ink on a light ground comes inverted first; light ink on a grey ground above mid-grey as it is.
    const paper = mnistBitmap(test.images, 4);
    for (let i = 0; i < paper.data.length; i += 4) for (let c = 0; c < 3; c++) paper.data[i + c] = 255 - Math.min(255, paper.data[i + c] + 110);
    expect(preprocess(paper).whole!.map((r) => r.inverted)).toEqual([true, false]);
    const fogged = mnistBitmap(test.images, 4);
    for (let i = 0; i < fogged.data.length; i += 4) for (let c = 0; c < 3; c++) fogged.data[i + c] = Math.min(255, fogged.data[i + c] + 150);
    expect(preprocess(fogged).whole!.map((r) => r.inverted)).toEqual([false, true]);
    // MNIST-like pictures pass through alone; a flat square and a larger picture get no whole readings.
    expect(preprocess(mnistBitmap(test.images, 4)).whole).toBeUndefined();
    const flat = mnistBitmap(test.images, 4);
    for (let i = 0; i < flat.data.length; i += 4) flat.data.fill(90, i, i + 3);
    expect(preprocess(flat).whole).toBeUndefined();
    expect(preprocess(mnistBitmap(test.images, 4, { scale: 4 })).whole).toBeUndefined();
  });

  it.each(SAMPLE)('digit %i inverted (dark ink on light) comes out as the original', (i) => {
    const { input, info } = preprocess(mnistBitmap(test.images, i, { invert: true }));
    expect(info.inverted).toBe(true);
    expect(correlation(input, original(i))).toBeGreaterThanOrEqual(0.99);
  });

  it.each(SAMPLE)('digit %i scaled up 8× comes out close to the original', (i) => {
    expect(correlation(preprocess(mnistBitmap(test.images, i, { scale: 8 })).input, original(i))).toBeGreaterThanOrEqual(0.9);
  });

  it.each(SAMPLE)('digit %i moved off-centre on a larger field comes out close to the original', (i) => {
    const { input } = preprocess(mnistBitmap(test.images, i, { scale: 3, canvas: 200, offset: [110, 5] }));
    expect(correlation(input, original(i))).toBeGreaterThanOrEqual(0.9);
  });

  it.each(SAMPLE)('digit %i as an RGBA canvas export (transparent background) comes out close to the original', (i) => {
    const { input, info } = preprocess(canvasBitmap(test.images, i));
    expect(info.hadAlpha).toBe(true);
    expect(correlation(input, original(i))).toBeGreaterThanOrEqual(0.9);
  });

  it.each(SAMPLE)('digit %i saved as a JPEG photo-like scan (inverted, 6×) comes out close to the original', async (i) => {
    const jpeg = await encode(mnistBitmap(test.images, i, { invert: true, scale: 6 }), 'image/jpeg');
    const { bitmap } = await decodeImage(new Uint8Array(jpeg), 40e6);
    expect(correlation(preprocess(bitmap).input, original(i))).toBeGreaterThanOrEqual(0.9);
  });

  it('says the ink was inverted for the model the same way on every path: pen on paper yes, chalk on a board no', () => {
    const pen = mnistBitmap(test.images, SAMPLE[0], { invert: true, scale: 6 });
    const chalk = mnistBitmap(test.images, SAMPLE[0], { scale: 6 });
    expect(preprocess(pen).info).toMatchObject({ path: 'normalized', inverted: true });
    expect(preprocess(chalk).info).toMatchObject({ path: 'normalized', inverted: false });
    expect(preprocess(mnistBitmap(test.images, SAMPLE[0], { invert: true })).info).toMatchObject({ path: 'passthrough', inverted: true });
    expect(preprocess(mnistBitmap(test.images, SAMPLE[0])).info).toMatchObject({ path: 'passthrough', inverted: false });
  });

  it('treats paper texture and faint noise as background', () => {
    const b = mnistBitmap(test.images, 0, { invert: true, scale: 4 });
    let seed = 1;
    for (let p = 0; p < b.width * b.height; p++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const noise = (seed >>> 24) % 40; // up to 16% darker speckles
      for (let c = 0; c < 3; c++) b.data[p * 4 + c] = Math.max(0, b.data[p * 4 + c] - noise);
    }
    expect(correlation(preprocess(b).input, original(0))).toBeGreaterThanOrEqual(0.9);
  });

  it('returns an empty field for a blank image', () => {
    const blank = { width: 50, height: 40, data: new Uint8Array(50 * 40 * 4).fill(255) };
    const { input, info } = preprocess(blank);
    expect(info.empty).toBe(true);
    expect(Math.max(...input)).toBe(0);
  });

  it('reuses its working buffers without touching earlier results', () => {
    // Every path: passthrough, normalized, inverted, and a photo-sized image that gets its own buffers.
    const bitmaps = [mnistBitmap(test.images, 0), mnistBitmap(test.images, 1, { invert: true }), mnistBitmap(test.images, 2, { scale: 4 }),
      mnistBitmap(test.images, 3, { scale: 25 })];
    const first = bitmaps.map((b) => preprocess(b).input);
    const copies = first.map((a) => Float32Array.from(a));
    for (let round = 0; round < 3; round++) for (const b of bitmaps) preprocess(b);
    first.forEach((a, k) => expect(a).toEqual(copies[k]));
    bitmaps.forEach((b, k) => expect(preprocess(b).input).toEqual(copies[k]));
    // The bitmap itself is never written to.
    const bitmap = mnistBitmap(test.images, 4);
    const before = Uint8Array.from(bitmap.data);
    preprocess(bitmap);
    expect(bitmap.data).toEqual(before);
  });

  it('answers a picture the same whatever it preprocessed before (its working memory is reused, never read stale)', async () => {
    // A sheet on a desk (the sheet's own page of ink beside the page's), a number (a line of candidates),
    // in orders that leave larger and smaller pictures' ink in the buffers.
    const rng = createRng(uploadSeed(9, 'sheet-on-desk', 0));
    const index = rng.int(test.count);
    const sheet = await decodeImage(await encodeUpload(renderLayout('sheet-on-desk', { sample: digitSampler(test.images, index), cols: 28, rows: 28 }, rng)), 50e6);
    const number = await decodeImage(await encodeUpload(renderNumberUpload(test.images, test.labels, 'touching', 9, 3).upload), 50e6);
    const bitmaps = [sheet.bitmap, number.bitmap, mnistBitmap(test.images, 5, { scale: 4 })];
    const everything = (r: ReturnType<typeof preprocess>) => ({
      ...r, input: Array.from(r.input), alternatives: r.alternatives?.map((a) => ({ ...a, input: Array.from(a.input) })),
      line: r.line && { ...r.line, inputs: Array.from(r.line.inputs) },
    });
    const fresh = bitmaps.map((b) => everything(createPreprocessor().run(b)));
    expect(fresh[0].alternatives?.some((a) => a.sheet)).toBe(true);
    expect(fresh[1].line?.candidates.length).toBeGreaterThan(2);
    const reused = createPreprocessor();
    for (const k of [0, 1, 2, 1, 0, 2, 0]) expect(everything(reused.run(bitmaps[k]))).toEqual(fresh[k]);
  });

  it('hands out model inputs that are zeroed and never overlap, across slabs, and other preprocessors\' never meet its own', () => {
    const blank = { width: 40, height: 40, data: new Uint8Array(40 * 40 * 4).fill(255) };
    const other = createPreprocessor();
    const inputs = Array.from({ length: 150 }, (_, k) => (k % 2 ? other : preprocessor).run(blank).input);
    inputs.forEach((a, k) => {
      expect(a.length).toBe(PIXELS);
      expect(a.every((v) => v === 0)).toBe(true);
      a.fill(k + 1);
    });
    inputs.forEach((a, k) => expect(a.every((v) => v === k + 1)).toBe(true));
  });

  it('toLuminance writes into a given buffer or a new one', () => {
    const img = { width: 2, height: 1, data: Uint8Array.of(255, 255, 255, 255, 0, 0, 0, 255) };
    const out = new Float32Array(2);
    expect(toLuminance(img, out).lum).toBe(out);
    expect(Array.from(out)).toEqual([255, 0]);
    expect(Array.from(toLuminance(img).lum)).toEqual([255, 0]);
  });

  it('otsu splits a bimodal histogram; resample preserves mean intensity', () => {
    const v = Float32Array.from({ length: 100 }, (_, i) => (i < 50 ? 0.04 : 0.8));
    const t = otsu(v);
    expect(t).toBeGreaterThanOrEqual(0.04);
    expect(t).toBeLessThan(0.8);
    const img = Float32Array.from({ length: 40 * 40 }, (_, i) => (i % 7) / 7);
    const mean = (a: Float32Array) => a.reduce((s, x) => s + x, 0) / a.length;
    expect(mean(resample(img, 40, 40, 20, 20))).toBeCloseTo(mean(img), 2);
  });
});
