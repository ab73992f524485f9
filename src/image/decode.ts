import { imageSize } from 'image-size';
import { Jimp, defaultFormats } from 'jimp';
import { AppError } from '../errors';
import type { Bitmap } from './bitmap';
import { decodePng, PngDecoder } from './png';

export type ImageFormat = 'png' | 'jpeg' | 'bmp' | 'gif' | 'tiff';

export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
  /** EXIF orientation 1-8 (JPEG; 1 when absent): phone cameras store pictures rotated and say so here. */
  orientation: number;
  /** PNG only: bits per pixel from IHDR (bit depth × channels), what the pixel data must hold. */
  bitsPerPixel?: number;
}

const startsWith = (b: Uint8Array, sig: number[], at = 0) => sig.every((v, i) => b[at + i] === v);

/** The format, from the bytes (never from a Content-Type header). */
export function detectFormat(b: Uint8Array): ImageFormat | undefined {
  if (startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (startsWith(b, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(b, [0x42, 0x4d])) return 'bmp';
  if (startsWith(b, [0x47, 0x49, 0x46, 0x38])) return 'gif';
  if (startsWith(b, [0x49, 0x49, 0x2a, 0x00]) || startsWith(b, [0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  return undefined;
}

function undecodable(format: string, why: string): never {
  throw new AppError('IMAGE_UNDECODABLE', `the ${format.toUpperCase()} image cannot be decoded: ${why}`);
}

/**
 * Reads the format (from the signature: the formats we decode) and the dimensions (image-size, which
 * reads headers only), without decoding the pixels.
 */
export function readHeader(b: Uint8Array): ImageHeader {
  const format = detectFormat(b);
  if (!format) {
    throw new AppError('IMAGE_UNSUPPORTED_FORMAT', 'the body is not a PNG, JPEG, BMP, GIF or TIFF image (judged from its first bytes)');
  }
  let size: { width?: number; height?: number; orientation?: number };
  try {
    // A Buffer view, not the Uint8Array: image-size slices its input, and a Uint8Array's slice copies
    // the whole file (0.86 ms for a 12 MP JPEG on the HTTP thread; a Buffer's slice is a view, 5 µs).
    size = imageSize(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  } catch (err) {
    return undecodable(format, (err as Error).message);
  }
  const { width = 0, height = 0, orientation = 1 } = size;
  if (!width || !height) undecodable(format, `the header gives ${width}×${height} pixels`);
  const header: ImageHeader = { format, width, height, orientation: orientation >= 1 && orientation <= 8 ? orientation : 1 };
  if (format === 'png' && b.length > PNG_IHDR_COLOR_TYPE) {
    const channels = PNG_CHANNELS[b[PNG_IHDR_COLOR_TYPE]];
    if (channels) header.bitsPerPixel = channels * b[PNG_IHDR_BIT_DEPTH];
  }
  return header;
}

/** IHDR's bit depth and colour type, at fixed offsets after the signature and the chunk's length and type. */
const PNG_IHDR_BIT_DEPTH = 24;
const PNG_IHDR_COLOR_TYPE = 25;
/** Samples per pixel by PNG colour type: grey, RGB, palette, grey + alpha, RGBA. */
const PNG_CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Checks that a file is complete where its format has an end marker (decoders often accept a cut file). */
function checkComplete(b: Uint8Array, format: ImageFormat): void {
  let end = b.length;
  if (format === 'jpeg') {
    while (end > 2 && b[end - 1] === 0x00) end--;
    if (!(b[end - 2] === 0xff && b[end - 1] === 0xd9)) undecodable(format, 'no end-of-image marker (truncated)');
  } else if (format === 'png') {
    let found = false;
    for (let i = Math.max(8, b.length - 64); i + 4 <= b.length; i++) if (startsWith(b, [0x49, 0x45, 0x4e, 0x44], i)) found = true;
    if (!found) undecodable(format, 'no IEND chunk (truncated)');
  } else if (format === 'gif') {
    while (end > 1 && b[end - 1] === 0x00) end--;
    if (b[end - 1] !== 0x3b) undecodable(format, 'no trailer (truncated)');
  }
}

/**
 * jimp's decoders by our format name. Called directly: jimp's own fromBuffer sniffs the type again through
 * an ESM-only dependency, and we have already read the format from the bytes.
 */
const DECODERS = (() => {
  const byMime = new Map(defaultFormats.map((f) => { const fmt = f(); return [fmt.mime, fmt] as const; }));
  const get = (mime: string) => {
    const fmt = byMime.get(mime as never);
    if (!fmt?.decode) throw new Error(`jimp has no decoder for ${mime}`);
    return { decode: (b: Buffer) => fmt.decode!(b) };
  };
  return { png: get('image/png'), jpeg: get('image/jpeg'), bmp: get('image/bmp'), gif: get('image/gif'), tiff: get('image/tiff') };
})();

function applyExifOrientation(img: InstanceType<typeof Jimp>, orientation: number): void {
  // 2,4,5,7 are mirrored variants; jimp rotates counter-clockwise for positive degrees.
  if (orientation === 2 || orientation === 4 || orientation === 5 || orientation === 7) img.flip({ horizontal: true, vertical: false });
  if (orientation === 3 || orientation === 4) img.rotate(180);
  if (orientation === 6 || orientation === 7) img.rotate(-90);
  if (orientation === 5 || orientation === 8) img.rotate(90);
}

/**
 * The most pixels a file of each format may have. JPEG keeps the server's limit: phones take 12–50 MP
 * pictures, and libvips decodes them at 1/8 scale straight from the DCT (a 12 MP photo in ~50 ms). PNG,
 * GIF, TIFF and BMP are decoded at full size (~65 ns a pixel in libvips: 9 MP is ~0.6 s of a decoding
 * thread): 9 MP still takes a 4K screenshot or an A4 page scanned at 300 dpi, and a digit needs far less.
 */
export const FORMAT_MAX_PIXELS: Readonly<Record<ImageFormat, number>> = Object.freeze({
  jpeg: Infinity, png: 9_000_000, tiff: 9_000_000, bmp: 9_000_000, gif: 4_000_000,
});
/**
 * Pixels a decoder works through for this file: all of them, except for JPEG, which libvips decodes at
 * 1/2, 1/4 or 1/8 scale when it is larger than the working size (a 12 MP photo costs about 1/16).
 */
export function decodeCost(header: ImageHeader): number {
  const pixels = header.width * header.height;
  return header.format === 'jpeg' ? pixels / 16 : pixels;
}

/** Files that cost more than this (~130 ms of a decoding thread) are heavy: they never take every decoding thread. */
export const HEAVY_DECODE_PIXELS = 2_000_000;

/** Deflate (PNG) cannot compress better than 1032:1 (a 258-byte match in under two bits, repeated). */
const DEFLATE_MAX_RATIO = 1032;
/** LZW (GIF) with 12-bit codes emits at most ~3,800 pixels a code: 4,096 pixels a byte is beyond reach. */
const LZW_MAX_PIXELS_PER_BYTE = 4096;

/**
 * Refuses, before anything is decoded, an image whose header promises more pixels than `maxPixels` or
 * its format's limit (IMAGE_TOO_MANY_PIXELS), or more than its bytes can hold (IMAGE_UNDECODABLE): a
 * 476-byte PNG that claims 29 MP cannot be whole, and libvips would spend seconds finding that out.
 */
export function checkPixelLimit(header: ImageHeader, maxPixels: number, fileBytes?: number): void {
  const pixels = header.width * header.height;
  const limit = Math.min(maxPixels, FORMAT_MAX_PIXELS[header.format]);
  if (pixels > limit) {
    const which = limit < maxPixels ? `a ${header.format.toUpperCase()}'s limit of ${limit}` : `the limit of ${limit}`;
    throw new AppError('IMAGE_TOO_MANY_PIXELS', `the image is ${header.width}×${header.height} = ${pixels} pixels, above ${which}`);
  }
  if (fileBytes === undefined) return;
  let least = 0;
  if (header.format === 'png' && header.bitsPerPixel) least = (header.height * (1 + Math.ceil((header.width * header.bitsPerPixel) / 8))) / DEFLATE_MAX_RATIO;
  else if (header.format === 'gif') least = pixels / LZW_MAX_PIXELS_PER_BYTE;
  if (fileBytes < least) {
    undecodable(header.format, `its header claims ${header.width}×${header.height} pixels, which ${fileBytes} bytes cannot hold (at least ${Math.ceil(least)} are needed): the file is cut short or forged`);
  }
}

/** Our PNG decoder when it handles the file; undefined sends it to jimp, which also judges files ours rejects. */
function decodePngOrUndefined(bytes: Uint8Array, png?: PngDecoder): Bitmap | undefined {
  try {
    return png ? png.decode(bytes) : decodePng(bytes);
  } catch {
    return undefined;
  }
}

/**
 * The fast path for a small PNG on the HTTP thread: decodeImage's checks, then `png` (whose buffers the
 * bitmap lives in until its next call), synchronously. Undefined when it is not a PNG our decoder takes
 * (or it rejects it): decodeImage then decides, with jimp.
 */
export function decodeSmallPng(png: PngDecoder, bytes: Uint8Array, header: ImageHeader, maxPixels: number): Bitmap | undefined {
  if (header.format !== 'png') return undefined;
  checkPixelLimit(header, maxPixels, bytes.length);
  checkComplete(bytes, header.format);
  return decodePngOrUndefined(bytes, png);
}

/** Which library decodes what our PNG decoder does not take. */
export type Decoder = 'sharp' | 'jimp';

/** Longer side the decoders shrink a photo to while decoding (JPEG shrink-on-load): preprocess's working size. */
export const DECODE_SIZE = 512;

type SharpModule = typeof import('sharp').default;
/** sharp once loaded, or null when its native binary cannot load on this platform. */
let sharpModule: SharpModule | null | undefined;

/**
 * sharp (libvips) if its prebuilt binary loads here, else undefined: the caller falls back to jimp.
 * Loaded when first asked for, not at import (the decoding workers ask as they start, so a spare is warm).
 */
export function loadSharp(): SharpModule | undefined {
  if (sharpModule === undefined) {
    try {
      sharpModule = require('sharp') as SharpModule;
      sharpModule.cache(false); // one image at a time per worker: libvips' operation cache only holds memory
      sharpModule.concurrency(1); // the decoding pool is the parallelism; each worker uses one libvips thread
    } catch {
      sharpModule = null;
    }
  }
  return sharpModule ?? undefined;
}

/** The decoder decodeImage uses when none is named: sharp where it loads, jimp elsewhere. */
export function defaultDecoder(): Decoder {
  return loadSharp() ? 'sharp' : 'jimp';
}

/** sharp's formats among ours: libvips in sharp's prebuilt binaries has no BMP loader. */
const SHARP_FORMATS: ReadonlySet<ImageFormat> = new Set(['png', 'jpeg', 'gif', 'tiff']);

/**
 * sharp: decode, turn by the EXIF orientation, shrink to fit DECODE_SIZE (for JPEG libvips decodes at
 * 1/2, 1/4 or 1/8 scale straight from the DCT, which is most of the speed), RGBA.
 */
async function decodeWithSharp(sharp: SharpModule, bytes: Uint8Array, format: ImageFormat, maxPixels: number): Promise<Bitmap> {
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error', pages: 1 })
      .rotate()
      .resize({ width: DECODE_SIZE, height: DECODE_SIZE, fit: 'inside', withoutEnlargement: true })
      .ensureAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 4) undecodable(format, `decoded to ${info.channels} channels`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (err) {
    if (err instanceof AppError) throw err;
    return undecodable(format, (err as Error).message.slice(0, 200));
  }
}

async function decodeWithJimp(bytes: Uint8Array, header: ImageHeader, maxPixels: number): Promise<Bitmap> {
  let decoded: { width: number; height: number; data: Buffer | Uint8Array };
  try {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    decoded = await DECODERS[header.format].decode(buffer) as typeof decoded;
  } catch (err) {
    return undecodable(header.format, (err as Error).message.slice(0, 200));
  }
  if (decoded.width * decoded.height > maxPixels) undecodable(header.format, 'decoded size differs from the header');
  const img = new Jimp({ width: decoded.width, height: decoded.height, data: Buffer.from(decoded.data.buffer, decoded.data.byteOffset, decoded.data.byteLength) });
  if (header.format === 'jpeg') applyExifOrientation(img, header.orientation);
  const { width, height, data } = img.bitmap;
  return { width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/**
 * Checks the header (format, pixel count against `maxPixels`, completeness), then decodes to RGBA: our
 * PNG decoder where it takes the file, else sharp (shrunk to fit DECODE_SIZE on load) or jimp. The pixel
 * limit is enforced before any decoding, which stops decompression bombs. Third-party decoders can hang
 * on hostile files: call this in a decoding worker with a deadline, never on the HTTP thread.
 */
export async function decodeImage(bytes: Uint8Array, maxPixels: number, decoder: Decoder = defaultDecoder()): Promise<{ bitmap: Bitmap; header: ImageHeader }> {
  if (bytes.length === 0) throw new AppError('REQUEST_EMPTY', 'the image is empty (0 bytes)');
  const header = readHeader(bytes);
  checkPixelLimit(header, maxPixels, bytes.length);
  checkComplete(bytes, header.format);
  if (header.format === 'png') {
    const fast = decodePngOrUndefined(bytes);
    if (fast) return { bitmap: fast, header };
  }
  const sharp = decoder === 'sharp' && SHARP_FORMATS.has(header.format) ? loadSharp() : undefined;
  const bitmap = sharp ? await decodeWithSharp(sharp, bytes, header.format, maxPixels) : await decodeWithJimp(bytes, header, maxPixels);
  return { bitmap, header };
}
