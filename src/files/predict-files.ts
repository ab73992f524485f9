import { readFile } from 'node:fs/promises';
import { AppError, isAppError } from '../errors';
import type { Predictor, PredictResult } from '../serve/predictor';

/** One file's outcome: a prediction, or the error that file got (the run goes on). */
export interface FileResult<T = unknown> {
  index: number; // position in the input order
  path: string;
  item: T; // what the input iterable gave (a path, or a path with its label)
  result?: PredictResult;
  error?: AppError;
}

export const PREDICT_FILES_DEFAULTS = Object.freeze({
  inFlight: 64, // files read, decoded or queued at once: two full batches, well under the queue limit
});

/**
 * Predicts every file of `items` with at most `inFlight` being read, decoded or inferred at once, and
 * yields the results in input order, each as soon as it and all before it are known. Memory stays flat
 * whatever the number of files; the predictor's queue never fills (keep `inFlight` under its limits).
 * @example for await (const r of predictFiles(walkImages(['digits/']), (p) => p, predictor)) print(r)
 */
export async function* predictFiles<T>(items: AsyncIterable<T>, pathOf: (item: T) => string, predictor: Pick<Predictor, 'predictBytes'>,
  opts: { inFlight: number } = PREDICT_FILES_DEFAULTS): AsyncGenerator<FileResult<T>> {
  const work = async (index: number, item: T): Promise<FileResult<T>> => {
    const path = pathOf(item);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (err) {
      return { index, path, item, error: new AppError('FILE_UNREADABLE', `${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`) };
    }
    try {
      return { index, path, item, result: await predictor.predictBytes(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)) };
    } catch (err) {
      return { index, path, item, error: isAppError(err) ? err : new AppError('INTERNAL_ERROR', (err as Error).message) };
    }
  };
  const it = items[Symbol.asyncIterator]();
  const pending = new Map<number, Promise<FileResult<T>>>();
  let started = 0;
  let yielded = 0;
  let exhausted = false;
  for (;;) {
    while (!exhausted && pending.size < opts.inFlight) {
      const next = await it.next();
      if (next.done) exhausted = true;
      else {
        pending.set(started, work(started, next.value));
        started++;
      }
    }
    const head = pending.get(yielded);
    if (!head) return;
    const r = await head;
    pending.delete(yielded++);
    yield r;
  }
}
