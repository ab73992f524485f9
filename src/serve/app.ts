import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { NextFunction, Request, Response } from 'express';
import multer from 'multer';
import type { Logger } from 'pino';
import { AppError, isAppError } from '../errors';
import type { Predictor, PredictResult } from './predictor';
import type { Metrics } from './metrics';
import type { ServeConfig } from './config';
import { v2Router } from './v2-protocol';

export interface AppDeps {
  predictor: Predictor;
  config: Pick<ServeConfig, 'maxBodyBytes' | 'maxFiles'>;
  logger: Logger;
  metrics: Metrics;
  /** The model card plus input contract, served at /v1/model. */
  modelInfo: Record<string, unknown>;
  /** True while shutting down: new predictions get 503 SERVER_DRAINING. */
  isDraining: () => boolean;
}

/** The compiled drawing page (dist/web), from the compiled server or from the TypeScript sources. */
function webDir(): string | undefined {
  return [join(__dirname, '..', '..', 'web'), join(__dirname, '..', '..', 'dist', 'web')].find((d) => existsSync(join(d, 'app.js')));
}

const PROBE_ROUTES = new Set(['/healthz', '/readyz', '/metrics', '/v2/health/live', '/v2/health/ready']);

function resultBody(r: PredictResult, debug: boolean): Record<string, unknown> {
  return debug ? { ...r.prediction, input28: Array.from(r.input28, (v) => Number(v.toFixed(4))) } : { ...r.prediction };
}

function errorBody(err: AppError): { error: { code: string; message: string } } {
  return { error: { code: err.code, message: err.message } };
}

/** Maps errors thrown by body parsers and multer to our catalogue. */
function normalizeError(err: unknown, maxBodyBytes: number): AppError {
  if (isAppError(err)) return err;
  const e = err as { type?: string; code?: string; field?: string; message?: string };
  if (e.type === 'entity.too.large' || e.code === 'LIMIT_FILE_SIZE') {
    return new AppError('IMAGE_TOO_LARGE', `the upload is larger than the limit of ${maxBodyBytes} bytes`);
  }
  if (e.code === 'LIMIT_UNEXPECTED_FILE') return new AppError('REQUEST_NO_IMAGE_FIELD', `unexpected file field '${e.field}': send files in the field 'image'`);
  if (e.code === 'LIMIT_FILE_COUNT') return new AppError('REQUEST_NO_IMAGE_FIELD', 'too many files in one request');
  if (e.code?.startsWith('LIMIT_') || e.message === 'Multipart: Boundary not found' || e.type === 'request.aborted') {
    return new AppError('REQUEST_EMPTY', `malformed request: ${e.message}`);
  }
  return new AppError('INFERENCE_FAILED', 'internal error');
}

/**
 * The HTTP app, without listening: POST /predict (raw bytes or multipart field `image`), health,
 * readiness, metrics and the model card. Every error is JSON {error: {code, message}}.
 */
export function buildApp(deps: AppDeps): express.Express {
  const { predictor, config, logger, metrics } = deps;
  const app = express();
  app.disable('x-powered-by');
  const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: config.maxBodyBytes, files: config.maxFiles, fields: 10 } });
  const raw = express.raw({ type: () => true, limit: config.maxBodyBytes });

  app.use((req, res, next) => {
    const start = performance.now();
    const id = (req.get('x-request-id') ?? '').slice(0, 128) || randomUUID();
    res.locals.requestId = id;
    res.setHeader('X-Request-Id', id);
    if (deps.isDraining()) res.setHeader('Connection', 'close');
    res.on('finish', () => {
      const route = (req.route?.path as string | undefined) ?? (res.statusCode < 400 && req.method === 'GET' ? 'static' : 'unmatched');
      const ms = performance.now() - start;
      metrics.requests.inc({ route, status: String(res.statusCode) });
      metrics.latency.observe({ route }, ms / 1000);
      const entry = { reqId: id, method: req.method, url: req.originalUrl, status: res.statusCode, ms: Number(ms.toFixed(2)), code: res.locals.errorCode };
      // Probes and scrapes at debug; expected overload answers (503) at warn; other 5xx at error; the rest at info.
      if (PROBE_ROUTES.has(route)) logger.debug(entry, 'request');
      else if (res.statusCode === 503) logger.warn(entry, 'request');
      else if (res.statusCode >= 500) logger.error(entry, 'request');
      else logger.info(entry, 'request');
    });
    next();
  });

  app.get('/healthz', (_req, res) => { res.json({ status: 'ok' }); });
  app.get('/readyz', (_req, res) => {
    if (predictor.isReady() && !deps.isDraining()) res.json({ status: 'ready' });
    else res.status(503).json({ status: deps.isDraining() ? 'draining' : 'loading' });
  });
  app.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });
  app.get('/v1/model', (_req, res) => { res.json(deps.modelInfo); });
  app.use(v2Router(predictor, { version: String(deps.modelInfo.modelVersion ?? '1'), maxBodyBytes: config.maxBodyBytes, isDraining: deps.isDraining }));

  app.post('/predict', (req, res, next) => {
    if (deps.isDraining()) return next(new AppError('SERVER_DRAINING', 'the server is shutting down'));
    if (req.is('multipart/form-data')) return upload.array('image', config.maxFiles)(req, res, next);
    return raw(req, res, next);
  }, async (req: Request, res: Response, next: NextFunction) => {
    try {
      const debug = req.query.debug === '1' || req.query.debug === 'true';
      if (req.is('multipart/form-data')) {
        const files = (req.files as Express.Multer.File[] | undefined) ?? [];
        if (files.length === 0) throw new AppError('REQUEST_NO_IMAGE_FIELD', "the multipart body has no file in the field 'image'");
        const settled = await Promise.allSettled(files.map((f) => predictor.predictBytes(new Uint8Array(f.buffer.buffer, f.buffer.byteOffset, f.buffer.length))));
        const ok = settled.filter((s) => s.status === 'fulfilled').length;
        metrics.observeImages(ok);
        if (files.length === 1) {
          if (settled[0].status === 'rejected') throw settled[0].reason;
          return res.json(resultBody((settled[0] as PromiseFulfilledResult<PredictResult>).value, debug));
        }
        if (ok === 0) throw (settled[0] as PromiseRejectedResult).reason;
        // Several files: one entry per file, in upload order; a bad file gets its own error entry.
        return res.json({
          predictions: settled.map((s, i) => ({
            file: files[i].originalname,
            ...(s.status === 'fulfilled' ? resultBody(s.value, debug) : errorBody(normalizeError(s.reason, config.maxBodyBytes))),
          })),
        });
      }
      const body = req.body as Buffer | undefined;
      if (!Buffer.isBuffer(body) || body.length === 0) throw new AppError('REQUEST_EMPTY', 'the request body is empty: send the image bytes, or multipart with the field \'image\'');
      const result = await predictor.predictBytes(new Uint8Array(body.buffer, body.byteOffset, body.length));
      metrics.observeImages(1);
      return res.json(resultBody(result, debug));
    } catch (err) {
      return next(err);
    }
  });

  const web = webDir();
  if (web) app.use(express.static(web, { index: 'index.html', maxAge: '1h' }));

  app.use((_req, _res, next) => next(new AppError('NOT_FOUND', 'no such route')));
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = normalizeError(err, config.maxBodyBytes);
    if (e.status >= 500 && !isAppError(err)) logger.error({ reqId: res.locals.requestId, err }, 'unexpected error');
    res.locals.errorCode = e.code;
    if (e.code === 'QUEUE_FULL' || e.code === 'SERVER_DRAINING') res.setHeader('Retry-After', '1');
    if (e.code === 'SERVER_DRAINING') res.setHeader('Connection', 'close');
    res.status(e.status).json(errorBody(e));
  });
  return app;
}
