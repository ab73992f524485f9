import { existsSync } from 'node:fs';
import { packageVersion } from '../package-info';
import type { RequestListener } from 'node:http';
import { join } from 'node:path';
import express, { NextFunction, Request, Response } from 'express';
import multer from 'multer';
import type { Logger } from 'pino';
import { AppError } from '../errors';
import type { Predictor, PredictResult } from './predictor';
import type { Metrics } from './metrics';
import type { ServeConfig } from './config';
import { v2Router } from './v2-protocol';
import { errorBody, normalizeError, sendError, tooLarge, trackRequest } from './respond';
import { handleRawPredict, isRawPredict, resultBody, wantsDebug } from './predict-route';

export interface AppDeps {
  predictor: Predictor;
  config: Pick<ServeConfig, 'maxBodyBytes' | 'maxFiles'>;
  logger: Logger;
  metrics: Metrics;
  /** The model card plus input contract, served at /v1/model. */
  modelInfo: Record<string, unknown>;
  /** True while shutting down: /readyz answers 503 and every answer closes its connection. */
  isDraining: () => boolean;
}

/** The compiled drawing page (dist/web), from the compiled server or from the TypeScript sources. */
function webDir(): string | undefined {
  return [join(__dirname, '..', '..', 'web'), join(__dirname, '..', '..', 'dist', 'web')].find((d) => existsSync(join(d, 'app.js')));
}

/**
 * The server's request handler, without listening: POST /predict (raw bytes or multipart field `image`),
 * health, readiness, metrics, the model card, KServe v2 and the drawing page. Every request gets an id,
 * an access log line and metrics; every error is JSON {error: {code, message}}. Raw-body POST /predict
 * skips Express (see predict-route.ts); everything else is the Express app.
 */
export function buildApp(deps: AppDeps): RequestListener {
  const { predictor, config, logger, metrics } = deps;
  const routeDeps = { predictor, metrics, logger, maxBodyBytes: config.maxBodyBytes };
  const app = express();
  app.disable('x-powered-by');
  const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: config.maxBodyBytes, files: config.maxFiles, fields: 10 } });

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
  app.use(v2Router(predictor, { version: String(deps.modelInfo.modelVersion ?? '1'), maxBodyBytes: config.maxBodyBytes, isDraining: deps.isDraining, server: { name: 'mnist-onnx', version: packageVersion() } }));

  app.post('/predict', (req, res, next) => {
    if (!req.is('multipart/form-data')) return void handleRawPredict(req, res, routeDeps);
    return upload.array('image', config.maxFiles)(req, res, next);
  }, async (req: Request, res: Response, next: NextFunction) => {
    try {
      const debug = wantsDebug(req.url);
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
    } catch (err) {
      return next(err);
    }
  });

  const web = webDir();
  if (web) app.use(express.static(web, { index: 'index.html', maxAge: '1h' }));

  app.use((_req, _res, next) => next(new AppError('NOT_FOUND', 'no such route')));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => sendError(res, err, routeDeps));
  return (req, res) => {
    trackRequest(req, res, deps);
    if (req.headers.expect?.toLowerCase() === '100-continue' && Number(req.headers['content-length']) > config.maxBodyBytes) {
      res.setHeader('Connection', 'close'); // the body was never asked for, so nothing is left to read
      return sendError(res, tooLarge(config.maxBodyBytes), routeDeps);
    }
    if (isRawPredict(req)) void handleRawPredict(req, res, routeDeps);
    else app(req, res);
  };
}
