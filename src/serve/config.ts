import { AppError } from '../errors';
import { checkPredictorOptions, PREDICTOR_DEFAULTS, PREDICTOR_INTEGER_MINIMUMS, PredictorOptions } from '../predictor';

/** The server's settings: the predictor's, and those of HTTP and the process around it. */
export interface ServeConfig extends PredictorOptions {
  port: number;
  host: string;
  model: string; // ONNX file served
  card: string; // model card JSON returned by /v1/model
  maxBodyBytes: number; // request body / per-file limit (413)
  maxFiles: number; // files per multipart request
  drainTimeoutMs: number; // ms a drain (SIGTERM, SIGINT) may take in all, the grace included, before the process exits anyway
  drainGraceMs: number; // ms of a drain's start in which the listener still accepts and a connection may deliver its request; silent connections are closed after it
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
  ...PREDICTOR_DEFAULTS,
  maxBodyBytes: 10 * 1024 * 1024,
  maxFiles: 16,
  drainTimeoutMs: 10_000,
  drainGraceMs: 1_000,
  headersTimeoutMs: 20_000,
  uploadTimeoutMs: 60_000,
  watchdogMs: 15_000,
  logLevel: 'info',
});

/** The HTTP settings that are whole numbers, with the smallest value each takes. */
const HTTP_INTEGER_MINIMUMS: Readonly<Partial<Record<keyof ServeConfig, number>>> = Object.freeze({
  port: 0, maxBodyBytes: 1, maxFiles: 1, drainTimeoutMs: 1, drainGraceMs: 0, headersTimeoutMs: 1, uploadTimeoutMs: 1, watchdogMs: 0,
});

const INTEGER_KEYS = [...Object.keys(PREDICTOR_INTEGER_MINIMUMS), ...Object.keys(HTTP_INTEGER_MINIMUMS)] as Array<keyof ServeConfig>;

const STRING_KEYS = ['host', 'model', 'card', 'decoder', 'notDigit', 'logLevel'] as const;

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
  for (const key of [...INTEGER_KEYS, 'maxBatchDelayMs', 'minDigitScore', 'minDigitWorth', ...STRING_KEYS] as Array<keyof ServeConfig>) {
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
  for (const [key, min] of Object.entries(HTTP_INTEGER_MINIMUMS) as Array<[keyof ServeConfig, number]>) {
    const v = c[key] as number;
    if (!Number.isInteger(v) || v < min) throw new AppError('CONFIG_INVALID', `server option '${key}' must be an integer ≥ ${min}, got ${v}`);
  }
  checkPredictorOptions(c);
  return Object.freeze(c);
}
