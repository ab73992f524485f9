import * as zlib from 'node:zlib';
import { AppError } from '../errors';
import type { Bitmap } from './bitmap';

/**
 * A small PNG decoder for the images the server sees most: 8-bit grey, RGB, grey+alpha and RGBA, and
 * palette or grey at 1, 2, 4 or 8 bits, not interlaced. Anything else (16-bit, Adam7) returns undefined;
 * a damaged file throws. decodeImage sends both to jimp, so jimp has the last word on odd files. Why it
 * exists: jimp (pngjs) took 104 µs to decode the 28×28 PNG that is most of our traffic; this takes
 * 22–38 µs (measured in a loop over examples/digit.png). Chunk CRCs are checked, as pngjs does.
 */

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }; // colour type → samples per pixel

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** zlib.crc32 where Node has it (≥ 20.15), else the table version. */
const crc32: (b: Uint8Array) => number = typeof zlib.crc32 === 'function' ? (b) => zlib.crc32(b) : (b) => {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};

function corrupt(why: string): never {
  throw new AppError('IMAGE_UNDECODABLE', `the PNG image cannot be decoded: ${why}`);
}

interface Header { width: number; height: number; depth: number; colorType: number; interlace: number }

/**
 * Undoes the per-row filters; returns the raw scanlines without their filter bytes. Flat offsets and one
 * loop per filter type, the first `bpp` bytes (no left neighbour) apart: this runs on every request.
 */
function unfilter(data: Uint8Array, rowBytes: number, height: number, bpp: number, out: Uint8Array): Uint8Array {
  for (let y = 0; y < height; y++) {
    const s = y * (rowBytes + 1) + 1; // source bytes, after the filter byte
    const o = y * rowBytes; // this row in out
    const u = o - rowBytes; // the row above in out (y > 0)
    let filter = data[s - 1];
    if (y === 0 && filter === 2) filter = 0; // Up over zeros
    if (y === 0 && filter === 4) filter = 1; // Paeth over zeros is Sub
    switch (filter) {
      case 0:
        for (let x = 0; x < rowBytes; x++) out[o + x] = data[s + x];
        break;
      case 1:
        for (let x = 0; x < bpp; x++) out[o + x] = data[s + x];
        for (let x = bpp; x < rowBytes; x++) out[o + x] = data[s + x] + out[o + x - bpp];
        break;
      case 2:
        for (let x = 0; x < rowBytes; x++) out[o + x] = data[s + x] + out[u + x];
        break;
      case 3:
        for (let x = 0; x < bpp; x++) out[o + x] = data[s + x] + (y > 0 ? out[u + x] >> 1 : 0);
        for (let x = bpp; x < rowBytes; x++) out[o + x] = data[s + x] + ((out[o + x - bpp] + (y > 0 ? out[u + x] : 0)) >> 1);
        break;
      case 4:
        for (let x = 0; x < bpp; x++) out[o + x] = data[s + x] + out[u + x];
        for (let x = bpp; x < rowBytes; x++) {
          const a = out[o + x - bpp];
          const b = out[u + x];
          const c = out[u + x - bpp];
          const pa = b > c ? b - c : c - b; // |p - a| with p = a + b - c
          const pb = a > c ? a - c : c - a; // |p - b|
          const pc = a + b > 2 * c ? a + b - 2 * c : 2 * c - a - b; // |p - c|
          out[o + x] = data[s + x] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
        }
        break;
      default:
        return corrupt(`row ${y} has filter type ${filter}`);
    }
  }
  return out;
}

/** Sample `x` of a row packed at `depth` bits (1, 2, 4 or 8). */
function sample(rows: Uint8Array, row: number, x: number, depth: number): number {
  if (depth === 8) return rows[row + x];
  const perByte = 8 / depth;
  const byte = rows[row + Math.floor(x / perByte)];
  const shift = 8 - depth * (1 + (x % perByte));
  return (byte >> shift) & ((1 << depth) - 1);
}

function toRgba(rows: Uint8Array, h: Header, rowBytes: number, out: () => Uint8Array, palette?: Uint8Array, trns?: Uint8Array): Uint8Array {
  const { height, width, depth, colorType } = h;
  if (colorType === 6) return rows; // already RGBA, 8 bits
  const rgba = out();
  rgba.fill(0); // pixels the tRNS key makes transparent are skipped below and must read as zeros
  const transparentGrey = colorType === 0 && trns && trns.length >= 2 ? (trns[0] << 8) | trns[1] : -1;
  const key = colorType === 2 && trns && trns.length >= 6 ? [(trns[0] << 8) | trns[1], (trns[2] << 8) | trns[3], (trns[4] << 8) | trns[5]] : undefined;
  const greyScale = 255 / ((1 << depth) - 1);
  let o = 0;
  for (let y = 0; y < height; y++) {
    const row = y * rowBytes;
    for (let x = 0; x < width; x++, o += 4) {
      if (colorType === 2) {
        const r = rows[row + x * 3], g = rows[row + x * 3 + 1], b = rows[row + x * 3 + 2];
        // The tRNS colour becomes transparent black, as pngjs (jimp) makes it.
        if (key && r === key[0] && g === key[1] && b === key[2]) continue;
        rgba[o] = r; rgba[o + 1] = g; rgba[o + 2] = b; rgba[o + 3] = 255;
      } else if (colorType === 4) {
        const v = rows[row + x * 2];
        rgba[o] = v; rgba[o + 1] = v; rgba[o + 2] = v; rgba[o + 3] = rows[row + x * 2 + 1];
      } else if (colorType === 0) {
        const s = sample(rows, row, x, depth);
        if (s === transparentGrey) continue;
        const v = Math.round(s * greyScale);
        rgba[o] = v; rgba[o + 1] = v; rgba[o + 2] = v; rgba[o + 3] = 255;
      } else {
        const i = sample(rows, row, x, depth);
        if (i * 3 + 2 >= palette!.length) corrupt(`palette index ${i} past the ${palette!.length / 3}-entry palette`);
        rgba[o] = palette![i * 3]; rgba[o + 1] = palette![i * 3 + 1]; rgba[o + 2] = palette![i * 3 + 2];
        rgba[o + 3] = trns && i < trns.length ? trns[i] : 255;
      }
    }
  }
  return rgba;
}

function supported(h: Header): boolean {
  if (h.interlace !== 0 || !(h.colorType in CHANNELS)) return false;
  if (h.colorType === 0 || h.colorType === 3) return [1, 2, 4, 8].includes(h.depth);
  return h.depth === 8;
}

/** Where a decode puts its scanlines (k = 0) and its RGBA pixels (k = 1). */
type Allocate = (bytes: number, k: 0 | 1) => Uint8Array;

const allocate: Allocate = (bytes) => new Uint8Array(bytes);

/**
 * Decodes a PNG to RGBA, or returns undefined for a variant this decoder leaves to jimp. A damaged file
 * (bad CRC, truncated data, impossible header) throws IMAGE_UNDECODABLE. The caller checks the pixel
 * limit from the header first; inflation is capped at the size the header implies. The pixels are the
 * caller's (see createPngDecoder for a decoder that reuses its buffers).
 * @example decodePng(readFileSync('examples/digit.png')) // { width: 28, height: 28, data: Uint8Array(3136) }
 */
export function decodePng(b: Uint8Array): Bitmap | undefined {
  return decodeWith(b, allocate);
}

/** A PNG decoder that owns the buffers its bitmaps live in: see createPngDecoder. */
export interface PngDecoder {
  /** As decodePng, but the pixels live in this decoder's buffers until its next call: use them first. */
  decode(bytes: Uint8Array): Bitmap | undefined;
}

/**
 * A decoder for one thread's small PNGs, with two buffers of its own (scanlines, then RGBA) reused from
 * call to call, up to REUSE_MAX bytes each. A new typed array of a few KB costs ~2.5 µs here; the 28×28
 * digit's whole decode takes ~20.
 */
export function createPngDecoder(): PngDecoder {
  const REUSE_MAX = 128 * 128 * 4;
  const reusable = [new Uint8Array(0), new Uint8Array(0)];
  const reuse: Allocate = (bytes, k) => {
    if (bytes > REUSE_MAX) return new Uint8Array(bytes);
    if (reusable[k].length < bytes) reusable[k] = new Uint8Array(Math.max(bytes, 28 * 28 * 4));
    return reusable[k].subarray(0, bytes);
  };
  return { decode: (bytes) => decodeWith(bytes, reuse) };
}

function decodeWith(b: Uint8Array, alloc: Allocate): Bitmap | undefined {
  if (b.length < 8 || SIGNATURE.some((v, i) => b[i] !== v)) corrupt('no PNG signature');
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let header: Header | undefined;
  let palette: Uint8Array | undefined;
  let trns: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  let ended = false;
  for (let p = 8; p + 12 <= b.length && !ended;) {
    const length = view.getUint32(p);
    if (p + 12 + length > b.length) corrupt(`a chunk at byte ${p} runs past the end of the file (truncated)`);
    const type = String.fromCharCode(b[p + 4], b[p + 5], b[p + 6], b[p + 7]);
    const data = b.subarray(p + 8, p + 8 + length);
    if (crc32(b.subarray(p + 4, p + 8 + length)) !== view.getUint32(p + 8 + length)) corrupt(`the ${type} chunk fails its CRC`);
    if (type === 'IHDR') {
      if (length !== 13) corrupt('IHDR is not 13 bytes');
      header = { width: view.getUint32(p + 8), height: view.getUint32(p + 12), depth: data[8], colorType: data[9], interlace: data[12] };
      if (!supported(header)) return undefined;
    } else if (type === 'PLTE') palette = data;
    else if (type === 'tRNS') trns = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') ended = true;
    p += 12 + length;
  }
  if (!header) return corrupt('no IHDR chunk');
  if (!ended) corrupt('no IEND chunk (truncated)');
  if (idat.length === 0) corrupt('no image data');
  if (header.colorType === 3 && !palette) corrupt('a palette image without a PLTE chunk');
  const rowBytes = Math.ceil((header.width * CHANNELS[header.colorType] * header.depth) / 8);
  const expected = (rowBytes + 1) * header.height;
  let inflated: Buffer;
  try {
    // chunkSize: under 4 KB Node carves the output from its buffer pool instead of allocating 16 KB.
    inflated = zlib.inflateSync(idat.length === 1 ? idat[0] : Buffer.concat(idat), { maxOutputLength: expected + 1, chunkSize: Math.max(64, Math.min(expected + 1, 16 * 1024)) });
  } catch (err) {
    return corrupt(`the image data does not inflate (${(err as Error).message})`);
  }
  // Fewer bytes than the header implies: truncated. More (some encoders pad): ignored, as libpng does.
  if (inflated.length < expected) corrupt(`the image data is ${inflated.length} bytes, the header implies ${expected} (truncated)`);
  const bpp = Math.max(1, (CHANNELS[header.colorType] * header.depth) / 8);
  // A plain Uint8Array view: the unfilter loops stay monomorphic (measured 30 → 26 µs for the example digit).
  const { width, height } = header;
  const rows = unfilter(new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.length), rowBytes, height, bpp, alloc(rowBytes * height, 0));
  return { width, height, data: toRgba(rows, header, rowBytes, () => alloc(width * height * 4, 1), palette, trns) };
}
