import type { Rng } from '../data/rng';

/**
 * A deterministic mutator for image files, for fuzzing the decoders: generic byte mutations (bit flips,
 * interesting values, inserted, deleted and repeated bytes, truncation) and format-aware ones (PNG chunk
 * lengths and CRCs, chunk data with the CRC fixed so the decoder goes past its check, header dimensions).
 */

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x10, 0x40];
const INTERESTING32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xffff, 0x10000, 65535 * 4, 28, 1 << 20];

let crcTable: Uint32Array | undefined;
/** CRC-32 as PNG computes it (ISO 3309). */
export function crc32(b: Uint8Array, start: number, end: number): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = crcTable[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

interface PngChunk { at: number; length: number }

function pngChunks(b: Uint8Array): PngChunk[] {
  const out: PngChunk[] = [];
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let at = 8; at + 12 <= b.length;) {
    const length = v.getUint32(at);
    if (at + 12 + length > b.length) break;
    out.push({ at, length });
    at += 12 + length;
  }
  return out;
}

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)];

function writeU32(b: Uint8Array, at: number, value: number, littleEndian = false): void {
  if (at + 4 > b.length) return;
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(at, value >>> 0, littleEndian);
}
function writeU16(b: Uint8Array, at: number, value: number, littleEndian = false): void {
  if (at + 2 > b.length) return;
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint16(at, value & 0xffff, littleEndian);
}

/** Offsets of the width/height fields by format (from the first bytes), for the header mutation. */
function dimensionFields(b: Uint8Array): Array<{ at: number; size: 2 | 4; le: boolean }> {
  if (b[0] === 0x89 && b[1] === 0x50) return [{ at: 16, size: 4, le: false }, { at: 20, size: 4, le: false }];
  if (b[0] === 0x47 && b[1] === 0x49) return [{ at: 6, size: 2, le: true }, { at: 8, size: 2, le: true }];
  if (b[0] === 0x42 && b[1] === 0x4d) return [{ at: 18, size: 4, le: true }, { at: 22, size: 4, le: true }];
  if (b[0] === 0xff && b[1] === 0xd8) {
    for (let i = 2; i + 9 < b.length; i++) {
      if (b[i] === 0xff && b[i + 1] >= 0xc0 && b[i + 1] <= 0xc2) return [{ at: i + 5, size: 2, le: false }, { at: i + 7, size: 2, le: false }];
    }
  }
  return [];
}

type Mutation = (b: Uint8Array, rng: Rng) => Uint8Array;

const MUTATIONS: Record<string, Mutation> = {
  flipBits: (b, rng) => {
    const n = 1 + rng.int(8);
    for (let k = 0; k < n; k++) b[rng.int(b.length)] ^= 1 << rng.int(8);
    return b;
  },
  interestingByte: (b, rng) => { b[rng.int(b.length)] = pick(rng, INTERESTING); return b; },
  insert: (b, rng) => {
    const at = rng.int(b.length + 1);
    const extra = Uint8Array.from({ length: 1 + rng.int(16) }, () => rng.int(256));
    return Uint8Array.from([...b.subarray(0, at), ...extra, ...b.subarray(at)]);
  },
  delete: (b, rng) => {
    const at = rng.int(b.length);
    const n = 1 + rng.int(64);
    return Uint8Array.from([...b.subarray(0, at), ...b.subarray(Math.min(b.length, at + n))]);
  },
  repeat: (b, rng) => {
    const at = rng.int(b.length);
    const part = b.subarray(at, at + 1 + rng.int(128));
    return Uint8Array.from([...b.subarray(0, at), ...part, ...part, ...b.subarray(at)]);
  },
  truncate: (b, rng) => b.slice(0, rng.int(b.length)),
  dimensions: (b, rng) => {
    const fields = dimensionFields(b);
    if (fields.length === 0) return MUTATIONS.flipBits(b, rng);
    const f = pick(rng, fields);
    const value = pick(rng, INTERESTING32);
    if (f.size === 4) writeU32(b, f.at, value, f.le);
    else writeU16(b, f.at, value, f.le);
    if (b[0] === 0x89) writeU32(b, 29, crc32(b, 12, 29)); // IHDR's CRC, so the decoder believes it
    return b;
  },
  pngChunkLength: (b, rng) => {
    const chunks = pngChunks(b);
    if (chunks.length === 0) return MUTATIONS.flipBits(b, rng);
    const c = pick(rng, chunks);
    writeU32(b, c.at, rng.next() < 0.5 ? pick(rng, INTERESTING32) : c.length + rng.int(33) - 16);
    return b;
  },
  pngChunkCrc: (b, rng) => {
    const chunks = pngChunks(b);
    if (chunks.length === 0) return MUTATIONS.flipBits(b, rng);
    const c = pick(rng, chunks);
    b[c.at + 8 + c.length + rng.int(4)] ^= 1 << rng.int(8);
    return b;
  },
  pngChunkDataFixedCrc: (b, rng) => {
    const chunks = pngChunks(b).filter((c) => c.length > 0);
    if (chunks.length === 0) return MUTATIONS.flipBits(b, rng);
    const c = pick(rng, chunks);
    const n = 1 + rng.int(4);
    for (let k = 0; k < n; k++) b[c.at + 8 + rng.int(c.length)] = rng.next() < 0.5 ? rng.int(256) : pick(rng, INTERESTING);
    writeU32(b, c.at + 8 + c.length, crc32(b, c.at + 4, c.at + 8 + c.length));
    return b;
  },
};

export const MUTATION_NAMES = Object.keys(MUTATIONS);

/**
 * One to three mutations of `seed` (never changed itself), chosen by `rng`.
 * @example mutate(pngBytes, createRng(7)) // a new Uint8Array, e.g. with IHDR's width set to 0x7fffffff
 */
export function mutate(seed: Uint8Array, rng: Rng): { bytes: Uint8Array; applied: string[] } {
  let b: Uint8Array = Uint8Array.from(seed);
  const applied: string[] = [];
  const n = 1 + rng.int(3);
  for (let k = 0; k < n && b.length > 0; k++) {
    const name = pick(rng, MUTATION_NAMES);
    applied.push(name);
    b = MUTATIONS[name](b, rng);
  }
  return { bytes: b, applied };
}
