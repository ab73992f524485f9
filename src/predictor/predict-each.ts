import { AppError, isAppError } from '../errors';
import type { Predictor, PredictResult } from './predictor';

/** Told how many images were answered (the server's images counter). */
export interface ImageCounter { observeImages(n: number): void }

/**
 * Predicts every file on its own: each gets its result or its catalogued error, in order. An error
 * outside the catalogue (a bug, not a bad file) is thrown for the whole request.
 */
export async function predictEach(predictor: Predictor, files: Uint8Array[], counter?: ImageCounter, client?: string): Promise<Array<PredictResult | AppError>> {
  const settled = await Promise.allSettled(files.map((f) => predictor.predictBytes(f, client)));
  const results = settled.map((s) => (s.status === 'fulfilled' ? s.value : s.reason as unknown));
  const bug = results.find((r) => r instanceof Error && !isAppError(r));
  if (bug) throw bug;
  counter?.observeImages(settled.filter((s) => s.status === 'fulfilled').length);
  return results as Array<PredictResult | AppError>;
}

/** The answer when every file failed: the first file's error stands for the request. */
export function allFailed<T>(results: Array<T | AppError>): AppError | undefined {
  return results.every((r) => isAppError(r)) ? results[0] as AppError : undefined;
}
