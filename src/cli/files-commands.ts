import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import { resolveServeConfig, SERVE_DEFAULTS } from '../serve/config';
import { createPredictor, Predictor } from '../predictor';
import { countImages, labelledImages, STDIN_PATH, walkImages } from '../files/walk';
import { predictFiles, PREDICT_FILES_DEFAULTS } from '../files/predict-files';
import { formatHeader, formatResult, OutputFormat } from '../files/format';
import { evaluateImages, summarizeImages } from '../files/evaluate-images';
import { confusionMatrixSvg } from '../train/report-plots';
import { createFileProgress } from './progress';

/** A predictor for a run over files: one process, both cores, queues sized for `inFlight` files. */
async function filePredictor(model: string | undefined, inFlight: number): Promise<Predictor> {
  const config = resolveServeConfig({
    model: model ?? process.env.MODEL, maxBatchDelayMs: 1, maxQueue: Math.max(SERVE_DEFAULTS.maxQueue, inFlight), maxDecodeQueue: inFlight,
    decodeWorkers: 2, requestTimeoutMs: 600_000, logLevel: 'warn', soloIntraOpNumThreads: 0, // always busy: no second session for lone batches
  });
  const predictor = createPredictor(config.model, config, { log: (m) => console.error(m) });
  await predictor.ready;
  return predictor;
}

interface PredictArgs { paths: string[]; json: boolean; csv: boolean; model?: string; 'in-flight': number }

export const predictCommand: CommandModule<object, PredictArgs> = {
  command: 'predict <paths..>',
  describe: 'predict the digit in image files and folders (recursively; - reads paths from stdin), streamed, without a server',
  builder: (y) => y.positional('paths', { type: 'string', array: true, demandOption: true, describe: 'image files, folders, or - for a list of paths on stdin' }).options({
    json: { type: 'boolean', default: false, describe: 'one JSON object per line' },
    csv: { type: 'boolean', default: false, describe: 'CSV with a header line' },
    model: { type: 'string', describe: `ONNX model (default ${SERVE_DEFAULTS.model})` },
    'in-flight': { type: 'number', default: PREDICT_FILES_DEFAULTS.inFlight, describe: 'files being read, decoded or inferred at once' },
  }).check((a) => !(a.json && a.csv) || 'choose one of --json and --csv'),
  handler: async (argv) => {
    const format: OutputFormat = argv.json ? 'json' : argv.csv ? 'csv' : 'tsv';
    const predictor = await filePredictor(argv.model, argv['in-flight']);
    const progress = createFileProgress(process.stderr, process.stderr.isTTY && !argv.paths.some((p) => p === '-' || p === STDIN_PATH) ? await countImages(argv.paths) : undefined);
    let done = 0;
    let failed = 0;
    try {
      const header = formatHeader(format);
      if (header) process.stdout.write(`${header}\n`);
      for await (const r of predictFiles(walkImages(argv.paths), (p) => p, predictor, { ...PREDICT_FILES_DEFAULTS, inFlight: argv['in-flight'] })) {
        done++;
        if (r.error) failed++;
        // Backpressure: a slow reader of stdout (a pipe into less) slows the run instead of growing memory.
        if (!process.stdout.write(`${formatResult(r, format)}\n`)) await new Promise((res) => process.stdout.once('drain', res));
        progress.update(done, failed);
      }
    } finally {
      progress.end();
      await predictor.close();
    }
    if (failed > 0) {
      console.error(`${failed} of ${done} files failed`);
      process.exitCode = 1;
    }
  },
};

interface EvaluateImagesArgs { source: string; model?: string; out: string; 'in-flight': number; 'with-input': number }

export const evaluateImagesCommand: CommandModule<object, EvaluateImagesArgs> = {
  command: 'evaluate-images <source>',
  describe: 'accuracy on your own labelled images: a folder DIR/<digit>/*, or a CSV of path,label',
  builder: (y) => y.positional('source', { type: 'string', demandOption: true, describe: 'DIR with subfolders 0..9, or a CSV file of path,label' }).options({
    model: { type: 'string', describe: `ONNX model (default ${SERVE_DEFAULTS.model})` },
    out: { type: 'string', default: 'artifacts/evaluate-images', describe: 'folder for report.json, summary.txt and confusion-matrix.svg' },
    'in-flight': { type: 'number', default: PREDICT_FILES_DEFAULTS.inFlight, describe: 'files being read, decoded or inferred at once' },
    'with-input': { type: 'number', default: 20, describe: 'misclassified files whose 28×28 model input goes into the report' },
  }),
  handler: async (argv) => {
    const predictor = await filePredictor(argv.model, argv['in-flight']);
    const progress = createFileProgress(process.stderr);
    try {
      const report = await evaluateImages(labelledImages(argv.source), predictor, {
        inFlight: argv['in-flight'], withInput: argv['with-input'], onResult: (d, f) => progress.update(d, f),
      });
      progress.end();
      const summary = summarizeImages(report);
      mkdirSync(argv.out, { recursive: true });
      writeFileSync(join(argv.out, 'report.json'), `${JSON.stringify({ source: argv.source, model: argv.model ?? SERVE_DEFAULTS.model, ...report }, null, 2)}\n`);
      writeFileSync(join(argv.out, 'summary.txt'), `${summary}\n`);
      writeFileSync(join(argv.out, 'confusion-matrix.svg'), confusionMatrixSvg(report.confusion, `${argv.source}: ${(100 * report.accuracy).toFixed(2)}% of ${report.images}`));
      console.log(summary);
      console.log(`wrote ${join(argv.out, 'report.json')}, summary.txt and confusion-matrix.svg`);
    } finally {
      await predictor.close();
    }
  },
};
