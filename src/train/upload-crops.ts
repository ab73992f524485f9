import { decodeImage } from '../image/decode';
import { createPreprocessor, type Preprocessed } from '../image/preprocess';
import { forEachLimited } from '../uploads/evaluate-uploads';

/** Largest picture, in pixels, the rendered uploads are decoded at. */
const MAX_PIXELS = 50_000_000;

/**
 * Uploads decoded and preprocessed as the server does, `concurrency` at a time; `pick` takes what it
 * needs from each preprocessed picture (copies: the preprocessor reuses its buffers) and the picks come
 * back in upload order, whatever order the decodes finish in, so a seeded set gives the same rows.
 */
export async function pickFromUploads<T>(count: number, concurrency: number, make: (i: number) => Uint8Array | Promise<Uint8Array>,
  pick: (p: Preprocessed, i: number) => T[]): Promise<T[]> {
  const preprocessor = createPreprocessor();
  const byUpload: T[][] = new Array(count);
  await forEachLimited(count, concurrency, async (i) => {
    const { bitmap, header } = await decodeImage(await make(i), MAX_PIXELS);
    byUpload[i] = pick(preprocessor.run(bitmap, header.width), i);
  });
  return byUpload.flat();
}
