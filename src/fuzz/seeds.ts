import sharp from 'sharp';
import { Jimp } from 'jimp';
import { IMAGE_SIZE, PIXELS } from '../data/mnist';

export interface FuzzSeed { name: string; bytes: Uint8Array }

const u8 = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/**
 * Valid files of every format and variant the server takes, made from one MNIST digit (`pixels`, 784
 * values, 0 = background): the starting points the mutator damages.
 */
export async function fuzzSeeds(pixels: Uint8Array): Promise<FuzzSeed[]> {
  if (pixels.length !== PIXELS) throw new Error(`a seed digit has ${PIXELS} pixels, got ${pixels.length}`);
  const grey = () => sharp(Buffer.from(pixels), { raw: { width: IMAGE_SIZE, height: IMAGE_SIZE, channels: 1 } });
  const rgb = () => grey().toColourspace('srgb');
  const jimp = new Jimp({ width: IMAGE_SIZE, height: IMAGE_SIZE });
  for (let i = 0; i < PIXELS; i++) jimp.bitmap.data.set([pixels[i], pixels[i], pixels[i], 255], i * 4);
  const seeds: Array<[string, Promise<Buffer>]> = [
    ['png-grey', grey().png().toBuffer()],
    ['png-palette', rgb().png({ palette: true, colours: 16 }).toBuffer()],
    ['png-16bit', grey().toColourspace('grey16').png().toBuffer()],
    ['png-interlaced', grey().png({ progressive: true }).toBuffer()],
    ['png-rgba', rgb().ensureAlpha(0.8).png().toBuffer()],
    ['jpeg-baseline', rgb().jpeg({ quality: 90 }).toBuffer()],
    ['jpeg-progressive', rgb().jpeg({ quality: 90, progressive: true }).toBuffer()],
    ['gif', rgb().gif().toBuffer()],
    ['tiff', rgb().tiff().toBuffer()],
    ['bmp', jimp.getBuffer('image/bmp')],
  ];
  return Promise.all(seeds.map(async ([name, p]) => ({ name, bytes: u8(await p) })));
}
