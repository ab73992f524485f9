import { writeFileSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { startServer } from '../serve/server';
import { SERVE_DEFAULTS, SERVE_ENV, serveConfigFromEnv, ServeConfig } from '../serve/config';

const serveOptions = {
  port: { type: 'number', describe: `port (env PORT, default ${SERVE_DEFAULTS.port})` },
  host: { type: 'string', describe: `address to bind (env HOST, default ${SERVE_DEFAULTS.host})` },
  model: { type: 'string', describe: `ONNX model (env MODEL, default ${SERVE_DEFAULTS.model})` },
  card: { type: 'string', describe: `model card JSON (default ${SERVE_DEFAULTS.card})` },
  workers: { type: 'number', describe: `inference worker threads (default ${SERVE_DEFAULTS.workers})` },
  'intra-op-threads': { type: 'number', describe: `onnxruntime threads per worker while other batches run too (default ${SERVE_DEFAULTS.intraOpNumThreads})` },
  'solo-intra-op-threads': { type: 'number', alias: 'idle-intra-op-threads', describe: `threads for a solo batch (nothing else running or waiting); 0: one session per worker (default ${SERVE_DEFAULTS.soloIntraOpNumThreads})` },
  'worker-nice': { type: 'number', describe: `nice steps the inference/decoding threads run below the HTTP thread, Linux (default ${SERVE_DEFAULTS.workerNice})` },
  'max-batch-size': { type: 'number', describe: `images per batch (default ${SERVE_DEFAULTS.maxBatchSize})` },
  'max-batch-delay-ms': { type: 'number', describe: `ms a request waits for its batch to fill (default ${SERVE_DEFAULTS.maxBatchDelayMs})` },
  'max-queue': { type: 'number', describe: `queued images before 503 (default ${SERVE_DEFAULTS.maxQueue})` },
  'request-timeout-ms': { type: 'number', describe: `ms before a queued image gets 504 (default ${SERVE_DEFAULTS.requestTimeoutMs})` },
  'max-body-bytes': { type: 'number', describe: `upload limit in bytes (default ${SERVE_DEFAULTS.maxBodyBytes})` },
  'max-pixels': { type: 'number', describe: `decoded size limit (default ${SERVE_DEFAULTS.maxPixels})` },
  'decode-workers': { type: 'number', describe: `threads decoding every image but small PNGs (default ${SERVE_DEFAULTS.decodeWorkers})` },
  'decode-timeout-ms': { type: 'number', describe: `ms one decode may take before its worker is replaced and the image refused (default ${SERVE_DEFAULTS.decodeTimeoutMs})` },
  decoder: { choices: ['auto', 'sharp', 'jimp'], describe: `photo decoder; auto: sharp where its binary loads (default ${SERVE_DEFAULTS.decoder})` },
  'not-digit': { choices: ['refuse', 'flag'], describe: `a mark that is not a digit: refuse (422 IMAGE_NO_DIGIT) or flag (answered with isDigit false) (default ${SERVE_DEFAULTS.notDigit})` },
  'min-digit-score': { type: 'number', describe: `digit score (0..1) under which a mark is not a digit (default ${SERVE_DEFAULTS.minDigitScore})` },
  'min-digit-worth': { type: 'number', describe: `probability × digit score under which a mark in a photo is not a digit; 0 = off (default ${SERVE_DEFAULTS.minDigitWorth})` },
  'drain-timeout-ms': { type: 'number', describe: `ms a drain on SIGTERM/SIGINT may take in all, before the process exits anyway (default ${SERVE_DEFAULTS.drainTimeoutMs})` },
  'drain-grace-ms': { type: 'number', describe: `ms the listener keeps accepting after SIGTERM/SIGINT, and a connection may still deliver its request (default ${SERVE_DEFAULTS.drainGraceMs})` },
  'headers-timeout-ms': { type: 'number', describe: `ms a client may take to send its headers (default ${SERVE_DEFAULTS.headersTimeoutMs})` },
  'upload-timeout-ms': { type: 'number', describe: `ms a client may take to send a whole request (default ${SERVE_DEFAULTS.uploadTimeoutMs})` },
  'watchdog-ms': { type: 'number', describe: `ms the HTTP thread may be blocked before the process kills itself; 0: off (default ${SERVE_DEFAULTS.watchdogMs})` },
  'log-level': { choices: ['fatal', 'error', 'warn', 'info', 'debug', 'silent'], describe: `log level (default ${SERVE_DEFAULTS.logLevel})` },
} as const;

type ServeArgs = { port?: number; host?: string; model?: string; card?: string; workers?: number; 'intra-op-threads'?: number; 'solo-intra-op-threads'?: number; 'worker-nice'?: number;
  'max-batch-size'?: number; 'max-batch-delay-ms'?: number; 'max-queue'?: number; 'request-timeout-ms'?: number;
  'max-body-bytes'?: number; 'max-pixels'?: number; 'decode-workers'?: number; 'decode-timeout-ms'?: number; decoder?: string; 'not-digit'?: string; 'min-digit-score'?: number; 'min-digit-worth'?: number; 'drain-timeout-ms'?: number; 'drain-grace-ms'?: number;
  'headers-timeout-ms'?: number; 'upload-timeout-ms'?: number; 'watchdog-ms'?: number; 'log-level'?: string };

export const serveCommand: CommandModule<object, ServeArgs> = {
  command: 'serve',
  describe: 'serve the ONNX model over HTTP',
  builder: (y) => y.options(serveOptions)
    .epilog(`Each option can be set by an environment variable instead: PORT, HOST, MODEL, and MNIST_<OPTION> for the rest (${SERVE_ENV.drainTimeoutMs}, ${SERVE_ENV.workers}); a flag wins over its variable.`),
  handler: async (argv) => {
    const flags: Partial<ServeConfig> = {
      port: argv.port, host: argv.host, model: argv.model,
      card: argv.card, workers: argv.workers, intraOpNumThreads: argv['intra-op-threads'], soloIntraOpNumThreads: argv['solo-intra-op-threads'], workerNice: argv['worker-nice'], maxBatchSize: argv['max-batch-size'],
      maxBatchDelayMs: argv['max-batch-delay-ms'], maxQueue: argv['max-queue'], requestTimeoutMs: argv['request-timeout-ms'],
      maxBodyBytes: argv['max-body-bytes'], maxPixels: argv['max-pixels'], decodeWorkers: argv['decode-workers'], decodeTimeoutMs: argv['decode-timeout-ms'],
      decoder: argv.decoder as never, notDigit: argv['not-digit'] as never, minDigitScore: argv['min-digit-score'], minDigitWorth: argv['min-digit-worth'], drainTimeoutMs: argv['drain-timeout-ms'], drainGraceMs: argv['drain-grace-ms'], headersTimeoutMs: argv['headers-timeout-ms'], uploadTimeoutMs: argv['upload-timeout-ms'],
      watchdogMs: argv['watchdog-ms'], logLevel: argv['log-level'] as never,
    };
    const set = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined));
    const running = await startServer({ ...serveConfigFromEnv(), ...set });
    const stop = () => { running.shutdown().then(() => process.exit(0), () => process.exit(1)); };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  },
};

export const benchCommand: CommandModule<object, { model?: string; duration: number; connections: number; rounds: number; 'load-generator': string; out: string }> = {
  command: 'bench',
  describe: 'benchmark the engine and the server (writes artifacts/bench.json)',
  builder: (y) => y.options({
    model: { type: 'string', describe: `ONNX model (default ${SERVE_DEFAULTS.model})` },
    duration: { type: 'number', default: 10, describe: 'seconds per load phase' },
    connections: { type: 'number', default: 64, describe: 'concurrent connections under load' },
    rounds: { type: 'number', default: 5, describe: 'load phases with batching, each between two engine measurements' },
    'load-generator': { choices: ['auto', 'wrk', 'autocannon'], default: 'auto', describe: 'auto: wrk when it is installed' },
    out: { type: 'string', default: 'artifacts/bench.json', describe: 'result file' },
  }),
  handler: async (argv) => {
    const { runBench, BENCH_DEFAULTS } = await import('../bench/run-bench');
    const result = await runBench({
      ...BENCH_DEFAULTS, model: argv.model ?? BENCH_DEFAULTS.model, durationS: argv.duration, connections: argv.connections,
      rounds: argv.rounds, loadGenerator: argv['load-generator'] as never,
    });
    writeFileSync(argv.out, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`wrote ${argv.out}`);
  },
};

export const benchFilesCommand: CommandModule<object, { model?: string; copies: number; out: string }> = {
  command: 'bench-files',
  describe: 'benchmark predict over a folder of 10,000 PNGs against the engine, memory at 10x the files, and evaluate-images (writes artifacts/bench-files.json)',
  builder: (y) => y.options({
    model: { type: 'string', describe: `ONNX model (default ${SERVE_DEFAULTS.model})` },
    copies: { type: 'number', default: 10, describe: 'copies of the test set for the memory run' },
    out: { type: 'string', default: 'artifacts/bench-files.json', describe: 'result file' },
  }),
  handler: async (argv) => {
    const { runFilesBench } = await import('../bench/files-bench');
    const result = await runFilesBench({ model: argv.model ?? SERVE_DEFAULTS.model, copies: argv.copies, engineSeconds: 3 });
    writeFileSync(argv.out, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`wrote ${argv.out}`);
  },
};
