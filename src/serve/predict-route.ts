import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { AppError } from '../errors';
import type { Predictor, PredictResult } from './predictor';
import type { Metrics } from './metrics';
import { requestRecord, sendError, sendJson, tooLarge } from './respond';

/**
 * POST /predict with the image as the whole body, on Node's own request and response objects. The
 * server answers these without Express: measured with wrk on this machine (2 cores), Express 5 costs
 * ~90 µs a request before any route runs (8,000 req/s against 32,000 for plain node:http), and this is
 * the route the load is on. Express still serves every other route, and multipart /predict (multer).
 */

export interface PredictRouteDeps {
  predictor: Predictor;
  metrics: Metrics;
  logger: Logger;
  maxBodyBytes: number;
}

/** `?debug=1` (or `true`) adds the 28×28 model input to the answer. */
export function wantsDebug(url: string | undefined): boolean {
  const q = url?.indexOf('?') ?? -1;
  if (q < 0) return false;
  const debug = new URLSearchParams(url!.slice(q + 1)).get('debug');
  return debug === '1' || debug === 'true';
}

/** The JSON answer for one image. */
export function resultBody(r: PredictResult, debug: boolean): Record<string, unknown> {
  return debug ? { ...r.prediction, input28: Array.from(r.input28, (v) => Number(v.toFixed(4))) } : { ...r.prediction };
}

/**
 * The whole request body, refused with IMAGE_TOO_LARGE as soon as it (or its declared Content-Length)
 * passes `limit`, without reading the rest.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  if (Number(req.headers['content-length']) > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err: Error | undefined, body?: Buffer) => {
      if (done) return;
      done = true;
      req.removeListener('data', onData);
      if (err) reject(err);
      else resolve(body!);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) finish(tooLarge(limit));
      else chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => finish(undefined, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)));
    req.once('error', (e) => finish(new AppError('REQUEST_EMPTY', `the request body could not be read: ${e.message}`)));
    req.once('close', () => { if (!req.complete) finish(new AppError('REQUEST_EMPTY', 'the client closed the connection before the body ended')); });
  });
}

/** Reads the image bytes, predicts, answers; every failure becomes a catalogued error answer. */
export async function handleRawPredict(req: IncomingMessage, res: ServerResponse, deps: PredictRouteDeps): Promise<void> {
  const record = requestRecord(res);
  if (record) record.route = '/predict';
  try {
    const body = await readBody(req, deps.maxBodyBytes);
    if (body.length === 0) throw new AppError('REQUEST_EMPTY', 'the request body is empty: send the image bytes, or multipart with the field \'image\'');
    const result = await deps.predictor.predictBytes(new Uint8Array(body.buffer, body.byteOffset, body.length));
    deps.metrics.observeImages(1);
    sendJson(res, 200, resultBody(result, wantsDebug(req.url)));
  } catch (err) {
    sendError(res, err, deps);
  }
}

/** True for the requests handleRawPredict answers directly: POST /predict whose body is not multipart. */
export function isRawPredict(req: IncomingMessage): boolean {
  if (req.method !== 'POST') return false;
  const url = req.url ?? '';
  if (!(url === '/predict' || url.startsWith('/predict?'))) return false;
  return !(req.headers['content-type'] ?? '').trimStart().toLowerCase().startsWith('multipart/');
}
