import { cpus } from 'node:os';
import { AppError } from '../errors';

export interface ServeConfig {
  port: number;
  host: string;
  model: string; // ONNX file served
  card: string; // model card JSON returned by /v1/model
  workers: number; // inference worker threads, one onnxruntime session each
  intraOpNumThreads: number; // onnxruntime threads per worker's session while other batches run too
  soloIntraOpNumThreads: number; // threads for a solo batch (nothing else running or waiting): a second session per worker; 0 = no second session
  workerNice: number; // nice steps the inference and decoding threads drop below the HTTP thread (Linux; 0 = same priority)
  maxBatchSize: number; // images per session.run
  maxBatchDelayMs: number; // ms the oldest queued request waits for a batch to fill
  maxQueue: number; // queued images before 503 QUEUE_FULL
  requestTimeoutMs: number; // ms a queued image may wait for its answer (504)
  maxBodyBytes: number; // request body / per-file limit (413)
  maxPixels: number; // decoded size limit, checked from the header before decoding (422)
  maxFiles: number; // files per multipart request
  inlineDecodeMaxPixels: number; // images up to this size (128×128) decode on the HTTP thread (< 1 ms); larger in a worker
  decodeWorkers: number; // threads decoding large images
  maxDecodeQueue: number; // large images waiting for a decoding thread before 503 QUEUE_FULL
  decodeTimeoutMs: number; // ms one decode may take before its worker is replaced and the image refused (422)
  decoder: 'auto' | 'sharp' | 'jimp'; // photos: auto = sharp where its binary loads, else jimp
  drainTimeoutMs: number; // ms to finish in-flight requests on SIGTERM before exiting anyway
  headersTimeoutMs: number; // ms a client may take to send a request's headers (408 past it)
  uploadTimeoutMs: number; // ms a client may take to send a whole request, body included (408 past it)
  watchdogMs: number; // ms the HTTP thread may be blocked before the process kills itself (a supervisor restarts it); 0 = off
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'silent';
}

export const SERVE_DEFAULTS: Readonly<ServeConfig> = Object.freeze({
  port: 8080,
  host: '0.0.0.0',
  model: 'artifacts/mnist-cnn.int8.onnx',
  card: 'artifacts/model-card.json',
  workers: Math.max(1, Math.min(2, cpus().length)),
  intraOpNumThreads: 1,
  soloIntraOpNumThreads: 2,
  workerNice: 10,
  maxBatchSize: 32,
  maxBatchDelayMs: 2,
  maxQueue: 1024,
  requestTimeoutMs: 10_000,
  maxBodyBytes: 10 * 1024 * 1024,
  maxPixels: 40_000_000,
  maxFiles: 16,
  inlineDecodeMaxPixels: 16_384,
  decodeWorkers: 1,
  maxDecodeQueue: 16,
  decodeTimeoutMs: 2_000,
  decoder: 'auto',
  drainTimeoutMs: 10_000,
  headersTimeoutMs: 20_000,
  uploadTimeoutMs: 60_000,
  watchdogMs: 15_000,
  logLevel: 'info',
});

const INTEGER_KEYS = ['port', 'workers', 'intraOpNumThreads', 'soloIntraOpNumThreads', 'workerNice', 'maxBatchSize', 'maxQueue', 'requestTimeoutMs', 'maxBodyBytes',
  'maxPixels', 'maxFiles', 'inlineDecodeMaxPixels', 'decodeWorkers', 'maxDecodeQueue', 'decodeTimeoutMs', 'drainTimeoutMs', 'headersTimeoutMs', 'uploadTimeoutMs', 'watchdogMs'] as const;

const STRING_KEYS = ['host', 'model', 'card', 'decoder', 'logLevel'] as const;

/**
 * The environment variable that sets each option: PORT, HOST and MODEL, and MNIST_<OPTION> for the rest
 * (MNIST_DRAIN_TIMEOUT_MS, MNIST_WORKERS). A container or a Kubernetes manifest configures the server
 * with these; a command-line flag wins over its variable.
 */
export const SERVE_ENV: Readonly<Record<keyof ServeConfig, string>> = Object.freeze(Object.fromEntries(
  (Object.keys(SERVE_DEFAULTS) as Array<keyof ServeConfig>).map((key) => [key,
    ({ port: 'PORT', host: 'HOST', model: 'MODEL' } as Record<string, string>)[key] ?? `MNIST_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`]),
) as Record<keyof ServeConfig, string>);

/**
 * The options set in `env` (unset and empty variables are left out).
 * @example serveConfigFromEnv({ PORT: '9000', MNIST_WORKERS: '4' }) // { port: 9000, workers: 4 }
 */
export function serveConfigFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<ServeConfig> {
  const out: Record<string, string | number> = {};
  for (const key of [...INTEGER_KEYS, 'maxBatchDelayMs', ...STRING_KEYS] as Array<keyof ServeConfig>) {
    const raw = env[SERVE_ENV[key]];
    if (raw === undefined || raw === '') continue;
    if ((STRING_KEYS as readonly string[]).includes(key)) out[key] = raw;
    else {
      const value = Number(raw);
      if (!Number.isFinite(value)) throw new AppError('CONFIG_INVALID', `${SERVE_ENV[key]}='${raw}' is not a number`);
      out[key] = value;
    }
  }
  return out as Partial<ServeConfig>;
}

/** Merges, validates (unknown keys rejected) and freezes the server configuration. */
export function resolveServeConfig(partial: Partial<ServeConfig> = {}): ServeConfig {
  for (const key of Object.keys(partial)) {
    if (!(key in SERVE_DEFAULTS)) throw new AppError('CONFIG_INVALID', `unknown server option '${key}'`);
  }
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  const c = { ...SERVE_DEFAULTS, ...defined } as ServeConfig;
  for (const key of INTEGER_KEYS) {
    const min = (['port', 'inlineDecodeMaxPixels', 'workerNice', 'soloIntraOpNumThreads', 'watchdogMs'] as string[]).includes(key) ? 0 : 1;
    if (!Number.isInteger(c[key]) || c[key] < min) throw new AppError('CONFIG_INVALID', `server option '${key}' must be an integer ≥ ${min}, got ${c[key]}`);
  }
  if (!['auto', 'sharp', 'jimp'].includes(c.decoder)) throw new AppError('CONFIG_INVALID', `server option 'decoder' must be auto, sharp or jimp, got ${c.decoder}`);
  if (!(c.maxBatchDelayMs >= 0)) throw new AppError('CONFIG_INVALID', `server option 'maxBatchDelayMs' must be ≥ 0, got ${c.maxBatchDelayMs}`);
  return Object.freeze(c);
}
