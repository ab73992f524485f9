import express, { NextFunction, Request, Response, Router } from 'express';
import { AppError, isAppError } from '../errors';
import { PIXELS, IMAGE_SIZE } from '../data/mnist';
import type { Logger } from 'pino';
import { allFailed, predictEach, Prediction, Predictor } from '../predictor';
import type { Metrics } from './prometheus';
import type { ServerState } from './server-state';
import { ErrorFormat, sendError } from './respond';

/** The model name under /v2/models/. */
export const V2_MODEL_NAME = 'mnist';
/** The model's one input, as its metadata names it. */
export const V2_INPUT_NAME = 'image';

interface V2Tensor { name: string; shape: number[]; datatype: string; data: unknown; parameters?: Record<string, unknown> }
interface V2Request { id?: string; inputs: V2Tensor[]; outputs?: Array<{ name: string }> }

function flatten(data: unknown): unknown[] {
  return Array.isArray(data) ? data.flat(Infinity as 1) : [data];
}

/**
 * Reads the request's one input: FP32 [N,1,28,28] already preprocessed, or BYTES [N] of base64 image files
 * (which go through the same preprocessing as /predict). Errors are REQUEST_BAD_TENSOR (400).
 */
export function parseV2Inputs(body: unknown): { kind: 'tensor'; images: Float32Array[] } | { kind: 'bytes'; files: Uint8Array[] } {
  const req = body as V2Request;
  if (!req || typeof req !== 'object' || !Array.isArray(req.inputs) || req.inputs.length !== 1) {
    throw new AppError('REQUEST_BAD_TENSOR', "the body must be JSON with exactly one entry in 'inputs'");
  }
  const t = req.inputs[0];
  if (t?.name !== V2_INPUT_NAME) throw new AppError('REQUEST_BAD_TENSOR', `unknown input '${t?.name}': this model's input is '${V2_INPUT_NAME}'`);
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new AppError('REQUEST_BAD_TENSOR', `input '${t.name}' needs a shape of positive integers`);
  }
  const values = flatten(t.data);
  if (t.datatype === 'BYTES') {
    if (t.shape.length !== 1 || values.length !== t.shape[0]) {
      throw new AppError('REQUEST_BAD_TENSOR', `BYTES input '${t.name}' must have shape [N] and N base64 strings, got shape [${t.shape}] and ${values.length} values`);
    }
    return {
      kind: 'bytes',
      files: values.map((v, i) => {
        if (typeof v !== 'string') throw new AppError('REQUEST_BAD_TENSOR', `BYTES element ${i} is not a base64 string`);
        return new Uint8Array(Buffer.from(v, 'base64'));
      }),
    };
  }
  if (t.datatype !== 'FP32') throw new AppError('REQUEST_BAD_TENSOR', `input '${t.name}' has datatype ${t.datatype}; expected FP32 [N,1,28,28] or BYTES [N]`);
  const [n, c, h, w] = t.shape;
  if (t.shape.length !== 4 || c !== 1 || h !== IMAGE_SIZE || w !== IMAGE_SIZE) {
    throw new AppError('REQUEST_BAD_TENSOR', `input '${t.name}' has shape [${t.shape}]; expected [N,1,28,28]`);
  }
  if (values.length !== n * PIXELS) throw new AppError('REQUEST_BAD_TENSOR', `input '${t.name}' has ${values.length} values; shape [${t.shape}] needs ${n * PIXELS}`);
  const flat = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new AppError('REQUEST_BAD_TENSOR', `input '${t.name}' value ${i} is not a finite number`);
    flat[i] = v;
  }
  return { kind: 'tensor', images: Array.from({ length: n }, (_, i) => flat.slice(i * PIXELS, (i + 1) * PIXELS)) };
}

const NO_ANSWER: Prediction = { digit: -1, probability: 0, probabilities: new Array(10).fill(0) };

/**
 * The response body for a batch of predictions, keeping only the requested outputs. An image that got
 * an error instead (IMAGE_NO_DIGIT, IMAGE_UNDECODABLE, ...) has digit -1, zero probabilities and its
 * `CODE: message` in the BYTES output `error`, which is present only when some image failed. With a
 * model that has a digit score, `digit_score` [N] (0 for an image that got an error; a BYTES image the
 * score refused has IMAGE_NO_DIGIT in `error`; an FP32 tensor is answered, not refused). `number` [N]
 * is the number read ('' for an error), `number_boxes` [N,K,4] and `number_probabilities` [N,K] its
 * digits' boxes and probabilities, K the most digits any image of the batch has.
 */
export function v2Response(predictions: Array<Prediction | AppError>, version: string, req: V2Request): Record<string, unknown> {
  const n = predictions.length;
  const answers = predictions.map((p) => (p instanceof AppError ? NO_ANSWER : p));
  const outputs = [
    { name: 'probabilities', shape: [n, 10], datatype: 'FP32', data: answers.flatMap((p) => p.probabilities) },
    { name: 'digit', shape: [n], datatype: 'INT64', data: answers.map((p) => p.digit) },
  ];
  // The number read: its digits as a string, and per digit (padded to the most digits in the batch,
  // -1 and 0 where an image has fewer) the box in the picture's pixels and the probability.
  const k = Math.max(1, ...answers.map((p) => p.digits?.length ?? 0));
  const boxes: number[] = [];
  const digitProbs: number[] = [];
  for (const p of answers) {
    for (let j = 0; j < k; j++) {
      const d = p.digits?.[j];
      boxes.push(...(d ? [d.box.x, d.box.y, d.box.width, d.box.height] : [-1, -1, -1, -1]));
      digitProbs.push(d ? d.probability : 0);
    }
  }
  outputs.push({ name: 'number', shape: [n], datatype: 'BYTES', data: answers.map((p) => p.number ?? (p.digit >= 0 ? String(p.digit) : '')) as never },
    { name: 'number_boxes', shape: [n, k, 4], datatype: 'INT64', data: boxes },
    { name: 'number_probabilities', shape: [n, k], datatype: 'FP32', data: digitProbs });
  if (answers.some((p) => p.digitScore !== undefined)) {
    outputs.push({ name: 'digit_score', shape: [n], datatype: 'FP32', data: answers.map((p) => p.digitScore ?? 0) });
  }
  if (predictions.some((p) => p instanceof AppError)) {
    outputs.push({ name: 'error', shape: [n], datatype: 'BYTES', data: predictions.map((p) => (p instanceof AppError ? `${p.code}: ${p.message}` : '')) as never });
  }
  const wanted = req.outputs?.map((o) => o.name);
  return {
    model_name: V2_MODEL_NAME, model_version: version, ...(req.id !== undefined ? { id: req.id } : {}),
    outputs: wanted ? outputs.filter((o) => wanted.includes(o.name)) : outputs,
  };
}

/**
 * The protocol's error body, {"error": "<CODE>: <message>"}; a bad request is 400 whatever our own
 * status for it, an unknown model or version 404; the server's own failures keep their 5xx, an upload
 * over the limit its 413.
 */
export const V2_ERROR_FORMAT: ErrorFormat = (e) => ({
  status: e.status >= 500 || e.code === 'NOT_FOUND' || e.code === 'IMAGE_TOO_LARGE' ? e.status : 400,
  body: { error: `${e.code}: ${e.message}` },
});

export interface V2Deps {
  predictor: Predictor;
  metrics: Metrics;
  state: ServerState;
  logger: Logger;
  version: string; // the one model version served
  maxBodyBytes: number;
  server: { name: string; version: string };
}

/**
 * The Open Inference Protocol (KServe v2) REST endpoints, on the same predictor (queue and workers) as
 * /predict, and the same "files → predictions" step for BYTES inputs.
 */
export function v2Router(deps: V2Deps): Router {
  const { predictor, state, version } = deps;
  const r = express.Router();
  const ready = () => state.readiness() === 'ready';
  // Every model route also answers under /versions/<v>/ for the one version served; another is 404.
  const model = [`/v2/models/${V2_MODEL_NAME}`, `/v2/models/${V2_MODEL_NAME}/versions/:version`];
  const at = (suffix: string) => model.map((m) => m + suffix);
  r.use(`/v2/models/${V2_MODEL_NAME}/versions/:version`, (req, _res, next) => {
    next(req.params.version === version ? undefined : new AppError('NOT_FOUND', `model '${V2_MODEL_NAME}' has no version '${req.params.version}' (served: '${version}')`));
  });
  r.get('/v2', (_req, res) => { res.json({ name: deps.server.name, version: deps.server.version, extensions: [] }); });
  r.get('/v2/health/live', (_req, res) => { res.json({ live: true }); });
  r.get('/v2/health/ready', (_req, res) => { res.status(ready() ? 200 : 400).json({ ready: ready() }); });
  r.get(at(''), (_req, res) => {
    res.json({
      name: V2_MODEL_NAME, versions: [version], platform: 'onnxruntime_onnx',
      inputs: [{ name: V2_INPUT_NAME, datatype: 'FP32', shape: [-1, 1, IMAGE_SIZE, IMAGE_SIZE] }],
      outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 10] }, { name: 'digit', datatype: 'INT64', shape: [-1] },
        { name: 'number', datatype: 'BYTES', shape: [-1] }, { name: 'number_boxes', datatype: 'INT64', shape: [-1, -1, 4] }, { name: 'number_probabilities', datatype: 'FP32', shape: [-1, -1] },
        ...(predictor.hasDigitScore() ? [{ name: 'digit_score', datatype: 'FP32', shape: [-1] }] : [])],
    });
  });
  r.get(at('/ready'), (_req, res) => { res.status(ready() ? 200 : 400).json({ name: V2_MODEL_NAME, ready: ready() }); });
  r.post(at('/infer'), express.json({ limit: deps.maxBodyBytes, type: () => true }), async (req: Request, res: Response, next: NextFunction) => {
    try {
      const parsed = parseV2Inputs(req.body);
      let predictions: Array<Prediction | AppError>;
      if (parsed.kind === 'tensor') predictions = await predictor.predictInputs(parsed.images);
      else {
        // Each image stands on its own: one that has no digit or cannot be decoded gets its own error entry.
        const results = await predictEach(predictor, parsed.files, deps.metrics, req.socket.remoteAddress);
        const failed = allFailed(results);
        if (failed) throw failed;
        predictions = results.map((p) => (isAppError(p) ? p : p.prediction));
      }
      res.json(v2Response(predictions, version, req.body as V2Request));
    } catch (err) {
      next(err);
    }
  });
  // Anything else under /v2 (another model's name, an unknown route) is answered in the protocol's format.
  r.use('/v2', (req, _res, next) => {
    const other = /^\/models\/([^/]+)/.exec(req.path);
    next(new AppError('NOT_FOUND', other ? `no model '${decodeURIComponent(other[1])}' here; this server serves '${V2_MODEL_NAME}'` : `no such route: ${req.method} /v2${req.path}`));
  });
  r.use('/v2', (err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = (err as { type?: string }).type === 'entity.parse.failed' ? new AppError('REQUEST_BAD_TENSOR', 'the body is not valid JSON') : err;
    sendError(res, e, { logger: deps.logger, maxBodyBytes: deps.maxBodyBytes, format: V2_ERROR_FORMAT });
  });
  return r;
}
