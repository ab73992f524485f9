import { createServer, RequestListener, Server } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import net, { AddressInfo } from 'node:net';
import pino, { Logger } from 'pino';
import { buildApp } from './app';
import { createMetrics } from './prometheus';
import { createPredictor, Predictor } from '../predictor';
import { resolveServeConfig, ServeConfig } from './config';
import { startWatchdog } from './watchdog';
import { createServerState, serverDraining } from './server-state';
import { afterGrace, createConnectionTracker } from './connections';

export interface RunningServer {
  server: Server;
  predictor: Predictor;
  url: string;
  /** Stops accepting, finishes in-flight requests (bounded by drainTimeoutMs), closes the workers. */
  shutdown(): Promise<void>;
}

/** Input contract returned with the model card at /v1/model. */
const INPUT_CONTRACT = {
  accepts: ['image/png', 'image/jpeg', 'image/bmp', 'image/gif', 'image/tiff', 'application/octet-stream', 'multipart/form-data (field image)'],
  preprocessing: 'MNIST-like 28x28 images unchanged; otherwise luminance, illumination flattened, polarity to light-on-dark, printed rules removed, the digit\'s connected components chosen (specks, lines, page edges and shadows dropped), crop, longer side to 20 px, centre of mass at the centre of 28x28, [0,1]; 422 IMAGE_NO_DIGIT when no stroke is found',
};

/** What GET /v1/model answers: the model card at `cardPath` (when there is one), the file served and the input contract. */
export function describeModel(cardPath: string, modelPath: string): Record<string, unknown> {
  const card = existsSync(cardPath) ? JSON.parse(readFileSync(cardPath, 'utf8')) : { note: `no model card at ${cardPath}` };
  return { ...card, served: modelPath, input: { ...(card.input ?? {}), ...INPUT_CONTRACT } };
}

/** Loads the config and model, then listens. `make serve` and `npm start` call this. */
export async function startServer(partial: Partial<ServeConfig> = {}, logger?: Logger): Promise<RunningServer> {
  const config = resolveServeConfig(partial);
  const log = logger ?? pino({ level: config.logLevel });
  const holder: { predictor?: Predictor } = {};
  const metrics = createMetrics(() => holder.predictor?.queueDepth ?? 0);
  const p = createPredictor(config.model, config, {
    onBatch: (n) => metrics.batchSize.observe(n),
    onQueueWait: (ms) => metrics.queueWait.observe(ms / 1000),
    closedError: serverDraining,
    log: (msg) => log.warn(msg),
  });
  holder.predictor = p;
  const state = createServerState(() => p.isReady());
  const app = buildApp({
    predictor: p, config, logger: log, metrics, state,
    modelInfo: describeModel(config.card, config.model),
  });
  const connections = createConnectionTracker();
  const listener: RequestListener = (req, res) => {
    connections.requestStarted(req, res);
    app(req, res);
  };
  // Header and upload timeouts are checked this often (Node's default, 30 s, would let them run that late).
  const server = createServer({ connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs) }, listener);
  server.on('connection', (socket) => connections.accepted(socket));
  // Longer than clients' and load balancers' idle timeouts (often 60 s): with Node's default of 5 s, a
  // client reusing a connection the server is just closing gets ECONNRESET (seen in the integration test).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = config.headersTimeoutMs;
  server.requestTimeout = config.uploadTimeoutMs;
  // Expect: 100-continue with a Content-Length over the limit: refused before the client sends the body.
  server.on('checkContinue', (req, res) => {
    if (!(Number(req.headers['content-length']) > config.maxBodyBytes)) res.writeContinue();
    listener(req, res); // the app answers the too-large ones 413
  });
  const stopWatchdog = config.watchdogMs > 0 ? startWatchdog(config.watchdogMs) : () => {};
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
  log.info({ url, model: config.model, workers: config.workers, maxBatchSize: config.maxBatchSize }, 'listening');
  p.ready.then(() => log.info('ready: every worker loaded the model and ran a warm-up batch'),
    (err) => log.error({ err }, 'model failed to load'));

  let closing: Promise<void> | undefined;
  return {
    server, predictor: p, url,
    shutdown() {
      closing ??= (async () => {
        const started = performance.now();
        const deadline = new Promise<void>((r) => setTimeout(r, config.drainTimeoutMs).unref());
        state.startDraining();
        log.info({ inFlight: connections.inFlight, connections: connections.open }, 'shutting down: readiness fails; answering every request a client has sent');
        // Connections without a request get drainGraceMs to deliver one; every answer from now on closes
        // its connection. The listener keeps accepting for the same time, so connections already in the
        // kernel's accept queue are taken and answered instead of reset when it closes.
        connections.drain(config.drainGraceMs);
        await Promise.race([afterGrace(config.drainGraceMs), deadline]);
        // Not server.close(): since Node 19 it also closes "idle" connections, the ones this drain protects.
        await new Promise<void>((r) => net.Server.prototype.close.call(server, () => r()));
        log.info({ connections: connections.open }, 'listener closed: new connections are refused');
        // Every request accepted (still being read, decoded, queued or inferred) is answered before the
        // workers stop under it.
        await Promise.race([connections.allClosed(), deadline]);
        await Promise.race([p.close(), deadline]);
        const unanswered = connections.closeAll();
        stopWatchdog();
        log.info({ unanswered, ms: Math.round(performance.now() - started) }, 'stopped');
      })();
      return closing;
    },
  };
}
