import type { IncomingMessage, ServerResponse } from 'node:http';
import getRawBody from 'raw-body';
import multer from 'multer';
import type { Logger } from 'pino';
import { AppError, isAppError } from '../errors';
import { allFailed, predictEach, Predictor, PredictResult } from '../predictor';
import type { Metrics } from './prometheus';
import { errorBody, requestRecord, sendError, sendJson } from './respond';

/**
 * POST /predict, for both kinds of body: the image as the whole body (raw), or multipart files in the
 * field `image`. Both read their files, hand them to predictEach (the same "files → predictions" step
 * the v2 BYTES input uses), and answer through the same responder. This route is served on Node's own
 * request and response objects, before Express: measured with wrk on this machine (2 cores), Express 5
 * costs ~90 µs a request before any route runs (8,000 req/s against 32,000 for plain node:http), and
 * this is the route the load is on.
 */

export interface PredictDeps {
  predictor: Predictor;
  metrics: Metrics;
  logger: Logger;
  maxBodyBytes: number;
  maxFiles: number;
}

/**
 * `?debug=1` (or `true`) adds the 28×28 model input, the reading that answered, every reading the model
 * scored and, for a number, what its probability was calibrated from.
 */
export function wantsDebug(url: string | undefined): boolean {
  const q = url?.indexOf('?') ?? -1;
  if (q < 0) return false;
  const debug = new URLSearchParams(url!.slice(q + 1)).get('debug');
  return debug === '1' || debug === 'true';
}

/** The JSON answer for one image. */
export function resultBody(r: PredictResult, debug: boolean): Record<string, unknown> {
  if (!debug) return { ...r.prediction };
  const round = (v: number | undefined) => (v === undefined ? undefined : Number(v.toFixed(4)));
  const readings = r.readings?.map((h) => ({ ...h, probability: Number(h.probability.toFixed(4)), digitScore: round(h.digitScore), pairScore: round(h.pairScore) }));
  const lineReading = r.lineReading && { rawProbability: Number(r.lineReading.rawProbability.toPrecision(6)), touching: r.lineReading.touching };
  const lineCandidates = r.lineCandidates?.map((c) => ({
    ...c, probability: Number(c.probability.toFixed(4)), digitScore: round(c.digitScore), pairScore: round(c.pairScore), pairProbability: round(c.pairProbability),
  }));
  return { ...r.prediction, input28: Array.from(r.input28, (v) => Number(v.toFixed(4))), reading: r.info.path === 'normalized' ? 'page' : r.info.path, readings, lineReading, lineCandidates };
}

/**
 * The whole request body, refused with IMAGE_TOO_LARGE as soon as it (or its declared Content-Length)
 * passes `limit`, without reading the rest; REQUEST_ABORTED when the client goes before it ends.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  try {
    return await getRawBody(req, { limit, length: declared === undefined ? undefined : Number(declared) });
  } catch (err) {
    // raw-body's own refusals carry a type (normalizeError maps them); an error of the socket itself
    // while reading is the client going away.
    if ((err as { type?: string }).type === undefined) throw new AppError('REQUEST_ABORTED', 'the client closed the connection before the body ended');
    throw err;
  }
}

/** True for POST /predict (with or without a trailing slash or a query): createPredictRoute answers these. */
export function isPredict(req: IncomingMessage): boolean {
  if (req.method !== 'POST') return false;
  const url = req.url ?? '';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  return path === '/predict' || path === '/predict/';
}

/** The POST /predict handler for both body kinds. */
export function createPredictRoute(deps: PredictDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: deps.maxBodyBytes, files: deps.maxFiles, fields: 10 } }).array('image', deps.maxFiles);

  async function filesOf(req: IncomingMessage, res: ServerResponse): Promise<Array<{ name?: string; bytes: Uint8Array }>> {
    if (!(req.headers['content-type'] ?? '').trimStart().toLowerCase().startsWith('multipart/')) {
      const body = await readBody(req, deps.maxBodyBytes);
      if (body.length === 0) throw new AppError('REQUEST_EMPTY', 'the request body is empty: send the image bytes, or multipart with the field \'image\'');
      return [{ bytes: new Uint8Array(body.buffer, body.byteOffset, body.length) }];
    }
    // multer's Express middleware works on Node's own objects: it reads req and sets req.files.
    await new Promise<void>((resolve, reject) => upload(req as never, res as never, (err?: unknown) => (err ? reject(err) : resolve())));
    const files = ((req as { files?: Express.Multer.File[] }).files ?? []);
    if (files.length === 0) throw new AppError('REQUEST_NO_IMAGE_FIELD', "the multipart body has no file in the field 'image'");
    return files.map((f) => ({ name: f.originalname, bytes: new Uint8Array(f.buffer.buffer, f.buffer.byteOffset, f.buffer.length) }));
  }

  return (req, res) => {
    const record = requestRecord(res);
    if (record) record.route = '/predict';
    void (async () => {
      try {
        const files = await filesOf(req, res);
        const results = await predictEach(deps.predictor, files.map((f) => f.bytes), deps.metrics, req.socket.remoteAddress);
        const failed = allFailed(results);
        if (failed) throw failed;
        const debug = wantsDebug(req.url);
        if (files.length === 1) return sendJson(res, 200, resultBody(results[0] as PredictResult, debug));
        // Several files: one entry per file, in upload order; a bad file gets its own error entry.
        return sendJson(res, 200, {
          predictions: results.map((r, i) => ({ file: files[i].name, ...(isAppError(r) ? errorBody(r) : resultBody(r, debug)) })),
        });
      } catch (err) {
        return sendError(res, err, deps);
      }
    })();
  };
}
