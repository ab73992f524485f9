import { isAppError } from '../../src/errors';
import { resolveServeConfig, SERVE_DEFAULTS, SERVE_ENV, serveConfigFromEnv } from '../../src/serve/config';

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isAppError(err, 'CONFIG_INVALID')) return err.message;
    throw err;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('resolveServeConfig', () => {
  it('fills the defaults, keeps what is given and freezes the result', () => {
    const c = resolveServeConfig({ workers: 3, decoder: 'jimp', maxBatchDelayMs: 0.5 });
    expect(c.workers).toBe(3);
    expect(c.decoder).toBe('jimp');
    expect(c.maxBatchDelayMs).toBe(0.5);
    expect(c.maxBatchSize).toBe(SERVE_DEFAULTS.maxBatchSize);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('treats undefined as not given', () => {
    expect(resolveServeConfig({ port: undefined }).port).toBe(SERVE_DEFAULTS.port);
  });

  it('refuses unknown keys, non-integers, values below the minimum and unknown decoders', () => {
    expect(configError(() => resolveServeConfig({ colour: 'red' } as never))).toMatch(/unknown server option 'colour'/);
    expect(configError(() => resolveServeConfig({ workers: 1.5 }))).toMatch(/'workers' must be an integer ≥ 1/);
    expect(configError(() => resolveServeConfig({ workers: 0 }))).toMatch(/'workers'/);
    expect(configError(() => resolveServeConfig({ port: -1 }))).toMatch(/'port' must be an integer ≥ 0/);
    expect(configError(() => resolveServeConfig({ decoder: 'gm' as never }))).toMatch(/'decoder' must be auto, sharp or jimp/);
    expect(configError(() => resolveServeConfig({ maxBatchDelayMs: Number.NaN }))).toMatch(/'maxBatchDelayMs'/);
    expect(configError(() => resolveServeConfig({ minDigitWorth: 1.5 }))).toMatch(/'minDigitWorth' must be in \[0, 1\]/);
  });

  it('allows 0 where 0 means off or any port', () => {
    const c = resolveServeConfig({ port: 0, watchdogMs: 0, soloIntraOpNumThreads: 0, workerNice: 0, inlineDecodeMaxPixels: 0 });
    expect([c.port, c.watchdogMs, c.soloIntraOpNumThreads, c.workerNice, c.inlineDecodeMaxPixels]).toEqual([0, 0, 0, 0, 0]);
  });
});

describe('serveConfigFromEnv', () => {
  it('names PORT, HOST and MODEL plainly and the rest MNIST_<OPTION>', () => {
    expect(SERVE_ENV.port).toBe('PORT');
    expect(SERVE_ENV.model).toBe('MODEL');
    expect(SERVE_ENV.drainTimeoutMs).toBe('MNIST_DRAIN_TIMEOUT_MS');
    expect(SERVE_ENV.soloIntraOpNumThreads).toBe('MNIST_SOLO_INTRA_OP_NUM_THREADS');
    expect(new Set(Object.values(SERVE_ENV)).size).toBe(Object.keys(SERVE_DEFAULTS).length);
  });

  it('reads numbers and strings, and leaves out unset and empty variables', () => {
    const env = { PORT: '9000', HOST: '127.0.0.1', MNIST_WORKERS: '4', MNIST_MAX_BATCH_DELAY_MS: '0.5', MNIST_DECODER: 'jimp', MNIST_LOG_LEVEL: 'warn', MNIST_MAX_QUEUE: '' };
    expect(serveConfigFromEnv(env)).toEqual({ port: 9000, host: '127.0.0.1', workers: 4, maxBatchDelayMs: 0.5, decoder: 'jimp', logLevel: 'warn' });
    expect(serveConfigFromEnv({})).toEqual({});
  });

  it('sets every option the server has', () => {
    const env = Object.fromEntries(Object.entries(SERVE_ENV).map(([key, name]) => [name, typeof SERVE_DEFAULTS[key as keyof typeof SERVE_DEFAULTS] === 'number' ? '1' : 'x']));
    expect(Object.keys(serveConfigFromEnv(env)).sort()).toEqual(Object.keys(SERVE_DEFAULTS).sort());
  });

  it('names the variable that is not a number', () => {
    expect(configError(() => serveConfigFromEnv({ MNIST_WORKERS: 'two' }))).toMatch(/MNIST_WORKERS='two' is not a number/);
  });
});
