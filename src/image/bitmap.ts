/** An RGBA bitmap as decoders return it: width × height × 4 bytes, row-major. */
export interface Bitmap {
  width: number;
  height: number;
  data: Uint8Array;
}
