import { AppError } from '../errors';

/** Magic number of an IDX file of unsigned bytes with 3 dimensions (images). */
export const IDX_IMAGES_MAGIC = 2051;
/** Magic number of an IDX file of unsigned bytes with 1 dimension (labels). */
export const IDX_LABELS_MAGIC = 2049;

export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  /** count × rows × cols bytes, row-major, 0 = background, 255 = ink. */
  pixels: Uint8Array;
}

function header(buf: Uint8Array, name: string, words: number, magic: number): DataView {
  if (buf.byteLength >= 4) checkMagic(new DataView(buf.buffer, buf.byteOffset, 4), magic, name);
  if (buf.byteLength < words * 4) {
    throw new AppError('DATA_TRUNCATED', `IDX file '${name}' is ${buf.byteLength} bytes: shorter than its header`);
  }
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

function checkMagic(view: DataView, expected: number, name: string): void {
  const magic = view.getUint32(0, false);
  if (magic !== expected) {
    throw new AppError('DATA_BAD_MAGIC', `IDX file '${name}' has magic ${magic}, expected ${expected}`);
  }
}

function checkLength(buf: Uint8Array, expected: number, name: string): void {
  if (buf.byteLength < expected) {
    throw new AppError('DATA_TRUNCATED', `IDX file '${name}' is ${buf.byteLength} bytes, its header promises ${expected}`);
  }
  if (buf.byteLength > expected) {
    throw new AppError('DATA_SHAPE_MISMATCH', `IDX file '${name}' is ${buf.byteLength} bytes, its header promises ${expected}`);
  }
}

/**
 * Parses an IDX image file (magic 2051, big-endian dimensions).
 * @example parseIdxImages(bytes, 't10k-images') // { count: 10000, rows: 28, cols: 28, pixels }
 */
export function parseIdxImages(buf: Uint8Array, name = 'images'): IdxImages {
  const view = header(buf, name, 4, IDX_IMAGES_MAGIC);
  const count = view.getUint32(4, false);
  const rows = view.getUint32(8, false);
  const cols = view.getUint32(12, false);
  checkLength(buf, 16 + count * rows * cols, name);
  return { count, rows, cols, pixels: buf.subarray(16) };
}

/** Parses an IDX label file (magic 2049); every label must be a digit 0-9. */
export function parseIdxLabels(buf: Uint8Array, name = 'labels'): Uint8Array {
  const view = header(buf, name, 2, IDX_LABELS_MAGIC);
  const count = view.getUint32(4, false);
  checkLength(buf, 8 + count, name);
  const labels = buf.subarray(8);
  const bad = labels.findIndex((l) => l > 9);
  if (bad >= 0) {
    throw new AppError('DATA_SHAPE_MISMATCH', `IDX file '${name}' has label ${labels[bad]} at index ${bad}`);
  }
  return labels;
}

/** Encodes images as an IDX file; used to write fixtures and subsets. */
export function encodeIdxImages(images: IdxImages): Uint8Array {
  const out = new Uint8Array(16 + images.pixels.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, IDX_IMAGES_MAGIC, false);
  view.setUint32(4, images.count, false);
  view.setUint32(8, images.rows, false);
  view.setUint32(12, images.cols, false);
  out.set(images.pixels, 16);
  return out;
}

/** Encodes labels as an IDX file. */
export function encodeIdxLabels(labels: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + labels.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, IDX_LABELS_MAGIC, false);
  view.setUint32(4, labels.length, false);
  out.set(labels, 8);
  return out;
}
