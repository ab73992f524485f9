import { readFileSync } from 'node:fs';
import { defaultFormats } from 'jimp';
import { createPngDecoder, decodePng } from '../../src/image/png';
import { decodeImage, decodeSmallPng, readHeader } from '../../src/image/decode';
import { isAppError } from '../../src/errors';
import { writePng, seededBytes, RawPng } from '../helpers/png';

/** jimp's own PNG decoder (pngjs): the reference ours must agree with. */
const jimpPng = defaultFormats.map((f) => f()).find((f) => f.mime === 'image/png')!;
async function reference(png: Buffer): Promise<Uint8Array> {
  const d = await jimpPng.decode!(png) as { data: Buffer };
  return new Uint8Array(d.data);
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

function randomPng(colorType: number, depth: number, width: number, height: number, seed: number, extra: Partial<RawPng> = {}): Buffer {
  const rowBytes = Math.ceil((width * CHANNELS[colorType] * depth) / 8);
  const bytes = seededBytes(rowBytes * height, seed);
  if (colorType === 3) {
    // Any packed index is below 2^depth: a palette with that many entries covers them all.
    const entries = 1 << depth;
    extra = { palette: seededBytes(entries * 3, seed + 1), ...extra };
  }
  const rows = Array.from({ length: height }, (_, y) => bytes.subarray(y * rowBytes, (y + 1) * rowBytes));
  return writePng({ width, height, depth, colorType, rows, ...extra });
}

describe('decodePng', () => {
  const cases: Array<[string, number, number]> = [
    ['grey 8-bit', 0, 8], ['grey 4-bit', 0, 4], ['grey 2-bit', 0, 2], ['grey 1-bit', 0, 1],
    ['RGB', 2, 8], ['grey+alpha', 4, 8], ['RGBA', 6, 8],
    ['palette 8-bit', 3, 8], ['palette 4-bit', 3, 4], ['palette 1-bit', 3, 1],
  ];
  it.each(cases)('%s decodes as jimp does, through all five row filters', async (_name, colorType, depth) => {
    const png = randomPng(colorType, depth, 13, 11, colorType * 100 + depth);
    const ours = decodePng(png);
    expect(ours).toBeDefined();
    expect(ours!.width).toBe(13);
    expect(ours!.height).toBe(11);
    expect(Buffer.from(ours!.data).equals(Buffer.from(await reference(png)))).toBe(true);
  });

  it('applies tRNS: palette alpha, and the transparent grey and RGB colours', async () => {
    const palette = randomPng(3, 8, 9, 7, 5, { trns: Uint8Array.of(0, 128, 255, 7) });
    const grey = writePng({ width: 3, height: 1, depth: 8, colorType: 0, rows: [Uint8Array.of(10, 20, 30)], trns: Uint8Array.of(0, 20) });
    const rgb = writePng({ width: 2, height: 1, depth: 8, colorType: 2, rows: [Uint8Array.of(1, 2, 3, 4, 5, 6)], trns: Uint8Array.of(0, 4, 0, 5, 0, 6) });
    for (const png of [palette, grey, rgb]) expect(Buffer.from(decodePng(png)!.data).equals(Buffer.from(await reference(png)))).toBe(true);
    expect(Array.from(decodePng(grey)!.data.filter((_, i) => i % 4 === 3))).toEqual([255, 0, 255]);
    expect(Array.from(decodePng(rgb)!.data.filter((_, i) => i % 4 === 3))).toEqual([255, 0]);
  });

  it('agrees with jimp on the example digit a user would send', async () => {
    const png = readFileSync('examples/digit.png');
    expect(Buffer.from(decodePng(png)!.data).equals(Buffer.from(await reference(png)))).toBe(true);
  });

  it('createPngDecoder: the same pixels from its reused buffers, which its next call overwrites; decodePng\'s are the caller\'s', async () => {
    const pngs = [randomPng(6, 8, 13, 11, 1), randomPng(2, 8, 13, 11, 2, { trns: Uint8Array.of(0, 1, 0, 2, 0, 3) }), randomPng(3, 4, 5, 3, 3),
      randomPng(6, 8, 200, 100, 4)]; // the last is above the reuse limit: its own buffers
    const refs = await Promise.all(pngs.map(reference));
    const owned = pngs.map((png) => decodePng(png)!.data);
    const decoder = createPngDecoder();
    for (let round = 0; round < 2; round++) {
      pngs.forEach((png, k) => expect(Buffer.from(decoder.decode(png)!.data).equals(Buffer.from(refs[k]))).toBe(true));
    }
    owned.forEach((data, k) => expect(Buffer.from(data).equals(Buffer.from(refs[k]))).toBe(true));
    const first = decoder.decode(pngs[0])!.data;
    const other = createPngDecoder().decode(pngs[2])!.data;
    decoder.decode(pngs[1]);
    expect(Buffer.from(first).equals(Buffer.from(refs[0]))).toBe(false);
    expect(Buffer.from(other).equals(Buffer.from(refs[2]))).toBe(true); // another decoder's buffers are its own
  });

  it('decodeSmallPng: decodeImage\'s checks, our decoder, and undefined for what it leaves to decodeImage', () => {
    const png = randomPng(0, 8, 6, 5, 7);
    expect(decodeSmallPng(createPngDecoder(), png, readHeader(png), 1e6)!.width).toBe(6);
    expect(() => decodeSmallPng(createPngDecoder(), png, readHeader(png), 29)).toThrow(/above the limit of 29/);
    expect(() => decodeSmallPng(createPngDecoder(), png.subarray(0, png.length - 12), readHeader(png), 1e6)).toThrow(/IEND/);
    const sixteen = writePng({ width: 4, height: 2, depth: 16, colorType: 0, rows: [seededBytes(8, 1), seededBytes(8, 2)] });
    expect(decodeSmallPng(createPngDecoder(), sixteen, readHeader(sixteen), 1e6)).toBeUndefined();
    const gif = Buffer.from('GIF89a\x02\x00\x02\x00\x00\x00\x00;', 'latin1');
    expect(decodeSmallPng(createPngDecoder(), gif, readHeader(gif), 1e6)).toBeUndefined();
  });

  it('leaves 16-bit and interlaced images to jimp, which decodes them', async () => {
    const sixteen = writePng({ width: 4, height: 2, depth: 16, colorType: 0, rows: [seededBytes(8, 1), seededBytes(8, 2)] });
    expect(decodePng(sixteen)).toBeUndefined();
    const { bitmap } = await decodeImage(sixteen, 1e6);
    expect([bitmap.width, bitmap.height]).toEqual([4, 2]);
    const interlaced = writePng({ width: 4, height: 1, depth: 8, colorType: 0, rows: [seededBytes(4, 3)], interlace: 1 });
    expect(decodePng(interlaced)).toBeUndefined();
  });

  describe('damaged files throw IMAGE_UNDECODABLE', () => {
    const good = randomPng(6, 8, 8, 8, 9);
    const idatStart = good.indexOf('IDAT') - 4;
    const damaged: Array<[string, Buffer, RegExp]> = [
      ['a flipped data byte (CRC)', (() => { const b = Buffer.from(good); b[idatStart + 10] ^= 0xff; return b; })(), /CRC/],
      ['cut inside IDAT', good.subarray(0, idatStart + 20), /past the end|truncated/],
      ['no IEND', good.subarray(0, good.length - 12), /IEND/],
      ['no signature', Buffer.concat([Buffer.from('GIF89a'), good.subarray(6)]), /signature/],
    ];
    it.each(damaged)('%s', (_name, png, message) => {
      let err: unknown;
      try { decodePng(png); } catch (e) { err = e; }
      expect(isAppError(err, 'IMAGE_UNDECODABLE')).toBe(true);
      expect((err as Error).message).toMatch(message);
    });

    it('a filter type outside 0-4', () => {
      const png = writePng({ width: 2, height: 2, depth: 8, colorType: 0, rows: [Uint8Array.of(1, 2), Uint8Array.of(3, 4)], filters: [0, 7] as number[] });
      expect(() => decodePng(png)).toThrow(/filter type 7/);
    });

    it('image data shorter than the header implies', () => {
      const png = writePng({ width: 4, height: 4, depth: 8, colorType: 0, rows: [seededBytes(4, 1), seededBytes(4, 2)] });
      expect(() => decodePng(png)).toThrow(/truncated/);
    });

    it('decodeImage answers a damaged PNG with the same code, after jimp has had its say', async () => {
      await expect(decodeImage(damaged[0][1], 1e6)).rejects.toMatchObject({ code: 'IMAGE_UNDECODABLE' });
    });
  });
});
