import type { RequestListener } from 'node:http';
import express, { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { AppError } from '../errors';
import { packageVersion } from '../package-info';
import type { Predictor } from '../predictor';
import type { Metrics } from './prometheus';
import type { ServeConfig } from './config';
import type { ServerState } from './server-state';
import { v2Router } from './v2-protocol';
import { sendError, tooLarge, trackRequest } from './respond';
import { createPredictRoute, isPredict } from './predict';
import { loadOpenApi, webDir } from './built';

export interface AppDeps {
  predictor: Predictor;
  config: Pick<ServeConfig, 'maxBodyBytes' | 'maxFiles'>;
  logger: Logger;
  metrics: Metrics;
  /** The model card plus input contract, served at /v1/model. */
  modelInfo: Record<string, unknown>;
  /** Loading, ready or draining: the readiness endpoints answer from it, and draining closes every answer's connection. */
  state: ServerState;
}

/**
 * The server's request handler, without listening: POST /predict (raw bytes or multipart field `image`),
 * health, readiness, metrics, the model card, KServe v2 and the drawing page. Every request gets an id,
 * an access log line and metrics; every error is JSON {error: {code, message}} (the v2 routes: the
 * protocol's {error: "..."}). POST /predict is answered before Express (see predict.ts); everything else
 * is the Express app.
 */
export function buildApp(deps: AppDeps): RequestListener {
  const { predictor, config, logger, metrics, state } = deps;
  const respondDeps = { logger, maxBodyBytes: config.maxBodyBytes };
  const predict = createPredictRoute({ predictor, metrics, logger, maxBodyBytes: config.maxBodyBytes, maxFiles: config.maxFiles });
  const app = express();
  app.disable('x-powered-by');

  app.get('/healthz', (_req, res) => { res.json({ status: 'ok' }); });
  app.get('/readyz', (_req, res) => {
    const status = state.readiness();
    res.status(status === 'ready' ? 200 : 503).json({ status });
  });
  app.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });
  app.get('/v1/model', (_req, res) => { res.json(deps.modelInfo); });
  const openapi = loadOpenApi();
  if (openapi) app.get('/openapi.json', (_req, res) => { res.json(openapi); });
  app.use(v2Router({
    predictor, metrics, state, logger, version: String(deps.modelInfo.modelVersion ?? '1'), maxBodyBytes: config.maxBodyBytes,
    server: { name: 'mnist-onnx', version: packageVersion() },
  }));

  const web = webDir();
  if (web) app.use(express.static(web, { index: 'index.html', maxAge: '1h' }));

  app.use((_req, _res, next) => next(new AppError('NOT_FOUND', 'no such route')));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => sendError(res, err, respondDeps));
  return (req, res) => {
    trackRequest(req, res, { logger, metrics, state });
    if (req.headers.expect?.toLowerCase() === '100-continue' && Number(req.headers['content-length']) > config.maxBodyBytes) {
      res.setHeader('Connection', 'close'); // the body was never asked for, so nothing is left to read
      return sendError(res, tooLarge(config.maxBodyBytes), respondDeps);
    }
    if (isPredict(req)) predict(req, res);
    else app(req, res);
  };
}
