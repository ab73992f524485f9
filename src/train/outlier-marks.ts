import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { PIXELS } from '../data/mnist';
import { encodeOutlierMarks, OUTLIER_MARK_DEFAULTS, OutlierMarkOptions } from '../data/outliers';
import { encodeUpload } from '../uploads/evaluate-uploads';
import { renderNonDigitUpload, TUNED_FAMILIES } from '../uploads/non-digits';
import { pickFromUploads } from './upload-crops';

/**
 * Marks of the tuned non-digit families (never a held-out one) rendered as realistic uploads, decoded
 * and cut out by the server's own preprocessing, as the 28×28 inputs the network sees: the page's
 * crop and each other layout's (a tight crop, a sheet, a frame). Uploads where nothing stands out give
 * none. Deterministic for a seed, whatever order the decodes finish in.
 */
export async function renderOutlierMarks(partial: Partial<OutlierMarkOptions> = {}, log: (m: string) => void = () => {}): Promise<Uint8Array> {
  const opts = { ...OUTLIER_MARK_DEFAULTS, ...partial };
  const jobs = TUNED_FAMILIES.flatMap((family) => Array.from({ length: opts.perFamily }, (_, i) => ({ family, i })));
  const toBytes = (input: Float32Array) => Uint8Array.from(input, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
  let done = 0;
  const rows = await pickFromUploads(jobs.length, opts.concurrency, (k) => encodeUpload(renderNonDigitUpload(jobs[k].family, opts.seed, jobs[k].i).upload), (p) => {
    if (++done % 1000 === 0) log(`outlier marks: ${done}/${jobs.length} uploads`);
    return p.info.empty ? [] : [toBytes(p.input), ...(p.alternatives ?? []).map((a) => toBytes(a.input))];
  });
  const out = new Uint8Array(rows.length * PIXELS);
  rows.forEach((r, i) => out.set(r, i * PIXELS));
  return out;
}

/** Renders the marks and writes them to `path` (replaced atomically). Returns how many. */
export async function writeOutlierMarks(path: string, partial: Partial<OutlierMarkOptions> = {}, log?: (m: string) => void): Promise<number> {
  const images = await renderOutlierMarks(partial, log);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, encodeOutlierMarks(images));
  renameSync(`${path}.tmp`, path);
  return images.length / PIXELS;
}
