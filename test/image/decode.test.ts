import sharp from 'sharp';
import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { checkPixelLimit, decodeImage, defaultDecoder, FORMAT_MAX_PIXELS, readHeader } from '../../src/image/decode';
import { correlation, encode } from '../helpers/images';
import type { Bitmap } from '../../src/image/bitmap';

const SIZE = 48;

/** An upright test picture no rotation or mirror maps onto itself: dark top-left block, grey top-right bar. */
function upright(x: number, y: number): number {
  if (x < 16 && y < 16) return 20;
  if (x >= 32 && y < 8) return 120;
  if (y >= 40 && x < 8) return 180;
  return 240;
}

/**
 * The pixels a camera stores for EXIF orientation `o`: the upright picture with the inverse of the turn
 * the viewer applies (o = 6: the viewer turns 90° clockwise, so the camera stored it 90° anticlockwise).
 */
const STORED: Record<number, (x: number, y: number) => [number, number]> = {
  1: (x, y) => [x, y],
  2: (x, y) => [SIZE - 1 - x, y],
  3: (x, y) => [SIZE - 1 - x, SIZE - 1 - y],
  4: (x, y) => [x, SIZE - 1 - y],
  5: (x, y) => [y, x],
  6: (x, y) => [SIZE - 1 - y, x],
  7: (x, y) => [SIZE - 1 - y, SIZE - 1 - x],
  8: (x, y) => [y, SIZE - 1 - x],
};

async function jpegWithOrientation(o: number): Promise<Uint8Array> {
  const px = Buffer.alloc(SIZE * SIZE);
  for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) px[y * SIZE + x] = upright(...STORED[o](x, y));
  const jpeg = await sharp(px, { raw: { width: SIZE, height: SIZE, channels: 1 } }).jpeg({ quality: 95 }).withMetadata({ orientation: o }).toBuffer();
  return new Uint8Array(jpeg);
}

const grey = (b: Bitmap) => Float32Array.from({ length: b.width * b.height }, (_, i) => b.data[i * 4]);
const expected = Float32Array.from({ length: SIZE * SIZE }, (_, i) => upright(i % SIZE, Math.floor(i / SIZE)));

describe('decodeImage', () => {
  it('uses sharp where its binary loads (it does on this platform)', () => {
    expect(defaultDecoder()).toBe('sharp');
  });

  it('falls back to jimp where sharp\'s native binary cannot load', async () => {
    const jpeg = await jpegWithOrientation(6);
    await jest.isolateModulesAsync(async () => {
      jest.doMock('sharp', () => { throw new Error('Could not load the "sharp" module using the linux-x64 runtime'); });
      const decode = await import('../../src/image/decode');
      expect(decode.loadSharp()).toBeUndefined();
      expect(decode.defaultDecoder()).toBe('jimp');
      const { bitmap } = await decode.decodeImage(jpeg, 1e6);
      expect(correlation(grey(bitmap), expected)).toBeGreaterThan(0.97);
    });
    jest.dontMock('sharp');
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('turns a JPEG with EXIF orientation %i upright, with sharp and with jimp', async (o) => {
    const bytes = await jpegWithOrientation(o);
    expect((await sharp(bytes).metadata()).orientation).toBe(o);
    for (const decoder of ['sharp', 'jimp'] as const) {
      const { bitmap } = await decodeImage(bytes, 1e6, decoder);
      expect([bitmap.width, bitmap.height]).toEqual([SIZE, SIZE]);
      expect(correlation(grey(bitmap), expected)).toBeGreaterThan(0.97);
    }
  });

  it('gives the same pixels from sharp and jimp for JPEG and for a PNG our decoder leaves to them (16-bit)', async () => {
    // Photo-like content: smooth colour gradients and one dark stroke (decoders differ most on noise).
    const px = Buffer.alloc(64 * 40 * 3);
    for (let y = 0; y < 40; y++) for (let x = 0; x < 64; x++) {
      const stroke = Math.abs(x - 20 - y / 2) < 2 ? 0.2 : 1;
      px.set([(200 + x / 2) * stroke, (150 + y * 2) * stroke, (100 + x + y) * stroke].map(Math.round), (y * 64 + x) * 3);
    }
    const img = () => sharp(px, { raw: { width: 64, height: 40, channels: 3 } });
    const files = [await img().jpeg({ quality: 90 }).toBuffer(), await img().jpeg({ quality: 80, progressive: true }).toBuffer(), await img().toColourspace('rgb16').png().toBuffer()];
    for (const file of files) {
      const a = (await decodeImage(new Uint8Array(file), 1e6, 'sharp')).bitmap;
      const b = (await decodeImage(new Uint8Array(file), 1e6, 'jimp')).bitmap;
      expect([a.width, a.height]).toEqual([b.width, b.height]);
      let diff = 0;
      for (let i = 0; i < a.data.length; i++) diff += Math.abs(a.data[i] - b.data[i]);
      expect(diff / a.data.length).toBeLessThan(2); // JPEG decoders differ by rounding and chroma upsampling
    }
  });

  it('shrinks a large JPEG to the working size while decoding (sharp), keeping the aspect ratio', async () => {
    const big = await sharp({ create: { width: 3000, height: 2000, channels: 3, background: '#eeeeee' } }).jpeg().toBuffer();
    const { bitmap, header } = await decodeImage(new Uint8Array(big), 40e6, 'sharp');
    expect([header.width, header.height]).toEqual([3000, 2000]);
    expect([bitmap.width, bitmap.height]).toEqual([512, 341]);
  });

  it('refuses truncated files and pixel bombs with catalogued codes, with either decoder', async () => {
    const jpeg = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#808080' } }).jpeg().toBuffer();
    for (const decoder of ['sharp', 'jimp'] as const) {
      await expect(decodeImage(new Uint8Array(jpeg.subarray(0, jpeg.length - 100)), 1e6, decoder)).rejects.toMatchObject({ code: 'IMAGE_UNDECODABLE' });
      await expect(decodeImage(new Uint8Array(jpeg), 300 * 200 - 1, decoder)).rejects.toMatchObject({ code: 'IMAGE_TOO_MANY_PIXELS' });
    }
  });

  it('checks the pixel limit of every format from its header, before decoding', async () => {
    const bitmap = { width: 300, height: 200, data: new Uint8Array(300 * 200 * 4).fill(200) };
    for (const mime of ['image/bmp', 'image/gif', 'image/tiff', 'image/jpeg', 'image/png'] as const) {
      const bytes = new Uint8Array(await encode(bitmap, mime));
      expect([mime, readHeader(bytes).width, readHeader(bytes).height]).toEqual([mime, 300, 200]);
      await expect(decodeImage(bytes, 300 * 200 - 1, 'jimp')).rejects.toMatchObject({ code: 'IMAGE_TOO_MANY_PIXELS' });
      expect((await decodeImage(bytes, 300 * 200, 'jimp')).bitmap.width).toBe(300);
    }
    // Headers alone, claiming 65535×65535: refused without a decoder ever seeing the (missing) pixels.
    const gif = Uint8Array.from([...Buffer.from('GIF89a'), 0xff, 0xff, 0xff, 0xff, 0, 0, 0]);
    const bmp = new Uint8Array(54);
    bmp.set(Buffer.from('BM'));
    new DataView(bmp.buffer).setUint32(14, 40, true);
    new DataView(bmp.buffer).setInt32(18, 65535, true);
    new DataView(bmp.buffer).setInt32(22, 65535, true);
    for (const bytes of [gif, bmp]) {
      await expect(decodeImage(bytes, 40e6, 'jimp')).rejects.toMatchObject({ code: 'IMAGE_TOO_MANY_PIXELS', message: expect.stringMatching(/65535×65535/) });
    }
  });

  it('holds PNG, GIF, TIFF and BMP to a limit of their own, far below the JPEG one', async () => {
    for (const format of ['png', 'gif', 'tiff', 'bmp'] as const) {
      expect(() => checkPixelLimit({ format, width: 4000, height: 3000, orientation: 1 }, 40e6))
        .toThrow(expect.objectContaining({ code: 'IMAGE_TOO_MANY_PIXELS', message: expect.stringMatching(/limit of/) }));
    }
    expect(() => checkPixelLimit({ format: 'jpeg', width: 8000, height: 5000, orientation: 1 }, 40e6)).not.toThrow();
    expect(FORMAT_MAX_PIXELS.png).toBeLessThanOrEqual(40e6 / 4);
  });

  it('refuses a PNG or GIF whose header claims more pixels than its bytes can hold, before decoding', async () => {
    // The fuzz find: 476 bytes claiming 1048576×28 RGBA kept libvips busy for seconds.
    const slow = new Uint8Array(readFileSync('test/fixtures/fuzz/png-rgba-1048576x28-slow-in-libvips.bin'));
    await expect(decodeImage(slow, 40e6, 'sharp')).rejects.toMatchObject({ code: 'IMAGE_TOO_MANY_PIXELS' });
    // Under the format's limit but still impossible: 2,000×2,000 RGBA needs ≥ 15.5 kB of deflate data.
    const forged = Buffer.from(slow);
    forged.writeUInt32BE(2000, 16);
    forged.writeUInt32BE(2000, 20);
    forged.writeUInt32BE(crc32(forged.subarray(12, 29)) >>> 0, 29);
    const header = readHeader(forged);
    expect([header.width, header.height, header.bitsPerPixel]).toEqual([2000, 2000, 32]);
    await expect(decodeImage(new Uint8Array(forged), 40e6, 'sharp')).rejects.toMatchObject({ code: 'IMAGE_UNDECODABLE', message: expect.stringMatching(/cannot hold/) });
    const gif = Uint8Array.from([...Buffer.from('GIF89a'), 0xd0, 0x07, 0xd0, 0x07, 0, 0, 0, 0x3b]);
    await expect(decodeImage(gif, 40e6, 'jimp')).rejects.toMatchObject({ code: 'IMAGE_UNDECODABLE', message: expect.stringMatching(/cannot hold/) });
    // A real flat PNG compresses well, but never past deflate's limit: it passes and decodes.
    const flat = await sharp({ create: { width: 2000, height: 2000, channels: 4, background: { r: 250, g: 250, b: 250, alpha: 1 } } }).png().toBuffer();
    expect(() => checkPixelLimit(readHeader(flat), 40e6, flat.length)).not.toThrow();
  });
});
