import { deflateSync, crc32 } from 'node:zlib';

/** A PNG written byte by byte, so tests can make the variants encoders rarely produce (palettes, 1-bit, every filter). */
export interface RawPng {
  width: number;
  height: number;
  depth: number; // bits per sample
  colorType: number; // 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA
  rows: Uint8Array[]; // unfiltered scanlines, packed as the format says
  filters?: number[]; // filter type per row (default: row index mod 5)
  palette?: Uint8Array;
  trns?: Uint8Array;
  interlace?: number;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Applies PNG filter `f` to `row` given the previous unfiltered row (zeros above the first). */
function filterRow(f: number, row: Uint8Array, prev: Uint8Array, bpp: number): Uint8Array {
  const out = new Uint8Array(row.length + 1);
  out[0] = f;
  for (let x = 0; x < row.length; x++) {
    const a = x >= bpp ? row[x - bpp] : 0;
    const b = prev[x];
    const c = x >= bpp ? prev[x - bpp] : 0;
    const pred = [0, a, b, (a + b) >> 1, paeth(a, b, c)][f];
    out[x + 1] = (row[x] - pred) & 0xff;
  }
  return out;
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

export function writePng(p: RawPng): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(p.width, 0);
  ihdr.writeUInt32BE(p.height, 4);
  ihdr.set([p.depth, p.colorType, 0, 0, p.interlace ?? 0], 8);
  const bpp = Math.max(1, (CHANNELS[p.colorType] * p.depth) / 8);
  let prev: Uint8Array = new Uint8Array(p.rows[0].length);
  const filtered = p.rows.map((row, y) => {
    const f = filterRow(p.filters?.[y] ?? y % 5, row, prev, bpp);
    prev = row;
    return f;
  });
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    ...(p.palette ? [chunk('PLTE', p.palette)] : []),
    ...(p.trns ? [chunk('tRNS', p.trns)] : []),
    chunk('IDAT', deflateSync(Buffer.concat(filtered))),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** Deterministic bytes for test images. */
export function seededBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}
