import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { AppError } from '../errors';

/** The path that stands for "read the list of paths from stdin" (as does `-`). */
export const STDIN_PATH = '/dev/stdin';

/** File endings taken when a folder is walked (files named on the command line are taken as they are). */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(['.png', '.jpg', '.jpeg', '.bmp', '.gif', '.tif', '.tiff']);

const isImage = (name: string) => IMAGE_EXTENSIONS.has(extname(name).toLowerCase());

/**
 * A folder's images and subfolders in name order (a subfolder walked where its name falls). Only the names are
 * held (a folder of 100,000 files: ~6 MB; with file-type entries it was ~70 MB more at peak), and only
 * names without an image ending are looked up to find the subfolders.
 */
async function* walkFolder(dir: string): AsyncGenerator<string> {
  const names = (await readdir(dir)).sort();
  for (const name of names) {
    const path = join(dir, name);
    if (isImage(name)) yield path;
    else if ((await stat(path).catch(() => undefined))?.isDirectory()) yield* walkFolder(path);
  }
}

/**
 * The files to predict, lazily: each path as given, folders recursively in name order (image endings
 * only), and for `-` the paths read from `stdin`, one a line. A path that does not exist is yielded
 * anyway, so that it gets its own error line.
 * @example for await (const f of walkImages(['examples'])) console.log(f) // examples/canvas-one.png, ...
 */
export async function* walkImages(paths: string[], stdin: NodeJS.ReadableStream = process.stdin): AsyncGenerator<string> {
  for (const p of paths) {
    if (p === '-' || p === STDIN_PATH) {
      for await (const line of createInterface({ input: stdin, crlfDelay: Infinity })) if (line.trim()) yield line.trim();
      continue;
    }
    const s = await stat(p).catch(() => undefined);
    if (s?.isDirectory()) yield* walkFolder(p);
    else yield p;
  }
}

/** How many files walkImages would yield (without stdin), for a progress bar's ETA. */
export async function countImages(paths: string[]): Promise<number> {
  let n = 0;
  for await (const _ of walkImages(paths.filter((p) => p !== '-' && p !== STDIN_PATH))) n++;
  return n;
}

/** A file and the digits it shows ("7", or a number such as "2026"). */
export interface LabelledFile { path: string; label: string }

/** A label: one digit, or a number of up to 20 digits (leading zeros are digits too). */
const LABEL = /^[0-9]{1,20}$/;

/**
 * Labelled images: a folder laid out as `DIR/<label>/*` (a digit 0–9 or a number such as 2026), or a
 * CSV file of `path,label` lines (a header line is skipped; relative paths are relative to the CSV's
 * folder).
 */
export async function* labelledImages(source: string): AsyncGenerator<LabelledFile> {
  const s = await stat(source);
  if (s.isDirectory()) {
    const names = (await readdir(source, { withFileTypes: true })).filter((e) => e.isDirectory() && LABEL.test(e.name)).map((e) => e.name);
    // Digits first in their order, then numbers by length and value, so a run's order does not depend on the file system.
    names.sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0));
    for (const label of names) for await (const path of walkFolder(join(source, label))) yield { path, label };
    return;
  }
  const base = join(source, '..');
  let line = 0;
  for await (const text of createInterface({ input: createReadStream(source), crlfDelay: Infinity })) {
    line++;
    if (!text.trim()) continue;
    const comma = text.lastIndexOf(',');
    const path = text.slice(0, comma).trim().replace(/^"(.*)"$/, '$1');
    const label = text.slice(comma + 1).trim().replace(/^"(.*)"$/, '$1');
    if (comma < 0 || !LABEL.test(label)) {
      if (line === 1) continue; // a header
      throw new AppError('FILE_LIST_INVALID', `${source}:${line}: expected 'path,label' with a label of 1–20 digits (7, 2026), got '${text}'`);
    }
    yield { path: path.startsWith('/') ? path : join(base, path), label };
  }
}
