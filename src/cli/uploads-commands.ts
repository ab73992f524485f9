import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import { loadMnist } from '../data/mnist';
import { resolveServeConfig, SERVE_DEFAULTS } from '../serve/config';
import { createPredictor } from '../predictor';
import { evaluateMnistPngs, evaluateUploads, UploadExample, UPLOADS_DEFAULTS } from '../uploads/evaluate-uploads';
import { examplesPicture } from '../uploads/examples-picture';
import { EMPTY_CONDITIONS, UPLOAD_CONDITIONS } from '../uploads/conditions';

interface Args { model?: string; only?: string[]; mnist: boolean; failures?: string; seed: number; 'per-condition': number; 'per-empty': number; out: string; picture: string; decoder: string }

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export const evaluateUploadsCommand: CommandModule<object, Args> = {
  command: 'evaluate-uploads',
  describe: 'accuracy on realistic uploads (photos, scans, canvas exports) made from MNIST test digits',
  builder: (y) => y.options({
    model: { type: 'string', describe: `ONNX model (default ${SERVE_DEFAULTS.model})` },
    seed: { type: 'number', default: UPLOADS_DEFAULTS.seed, describe: 'seed of the generated set (2 is the held-out set the README reports; tune on 1)' },
    'per-condition': { type: 'number', default: UPLOADS_DEFAULTS.perCondition, describe: 'uploads per condition' },
    'per-empty': { type: 'number', default: UPLOADS_DEFAULTS.perEmptyCondition, describe: 'pictures with no digit, per kind' },
    only: { type: 'string', array: true, describe: `only these conditions (of ${[...UPLOAD_CONDITIONS, ...EMPTY_CONDITIONS].join(', ')})` },
    failures: { type: 'string', describe: 'folder to write every misread upload to, with what the model saw' },
    mnist: { type: 'boolean', default: true, describe: 'also post the 10,000 MNIST test digits as 28×28 PNGs' },
    decoder: { choices: ['auto', 'sharp', 'jimp'], default: 'auto', describe: 'photo decoder' },
    out: { type: 'string', default: 'artifacts/uploads-report.json', describe: 'report file' },
    picture: { type: 'string', default: 'artifacts/uploads-examples.png', describe: 'picture of a few uploads and what the model saw' },
  }),
  handler: async (argv) => {
    const { test } = await loadMnist();
    const config = resolveServeConfig({ model: argv.model ?? process.env.MODEL, workers: 1, decodeWorkers: 2, decoder: argv.decoder as never, maxBatchDelayMs: 1 });
    const predictor = createPredictor(config.model, config, { log: (m) => console.error(m) });
    await predictor.ready;
    const examples: UploadExample[] = [];
    const t0 = performance.now();
    try {
      const report = await evaluateUploads(predictor, test, {
        ...UPLOADS_DEFAULTS, only: argv.only, seed: argv.seed, perCondition: argv['per-condition'], perEmptyCondition: argv['per-empty'],
      }, (e) => examples.push(e));
      console.log(`seed ${report.seed}: ${report.overall.right}/${report.overall.images} right (${pct(report.overall.accuracy)})`);
      for (const c of report.conditions) {
        const errors = Object.entries(c.errors).map(([k, v]) => `${k} ${v}`).join(', ');
        console.log(`  ${c.condition.padEnd(18)} ${pct(c.accuracy).padStart(6)}  wrong ${c.wrong}, no digit ${c.noDigit}${errors ? `, ${errors}` : ''}  ${c.meanMs} ms`);
      }
      console.log(`no-digit pictures refused: ${report.emptyRefused.refused}/${report.emptyRefused.images}`);
      for (const c of report.empty) console.log(`  ${c.condition.padEnd(18)} ${c.noDigit}/${c.images} refused`);
      const mnist = argv.mnist ? await evaluateMnistPngs(predictor, test) : undefined;
      if (mnist) console.log(`MNIST test set as 28×28 PNGs: ${mnist.right}/${mnist.images} right (${pct(mnist.accuracy)}), ${mnist.noDigit} refused as no digit, ${mnist.errors} errors, ${mnist.passthrough} passed through unchanged`);
      writeFileSync(argv.out, `${JSON.stringify({ ...report, mnistTestPngs: mnist, model: config.model, decoder: config.decoder, seconds: Number(((performance.now() - t0) / 1000).toFixed(1)) }, null, 2)}\n`);
      const firsts = examples.filter((e) => e.index === 0);
      if (argv.failures) {
        mkdirSync(argv.failures, { recursive: true });
        for (const e of examples.filter((x) => !x.right)) {
          const name = join(argv.failures, `${e.condition}-${e.index}-label${e.label ?? 'none'}-got${e.answer}`);
          writeFileSync(`${name}.${e.bytes[0] === 0x89 ? 'png' : 'jpg'}`, e.bytes);
          writeFileSync(`${name}-seen.png`, await examplesPicture([e]));
        }
      }
      writeFileSync(argv.picture, await examplesPicture(firsts));
      console.log(`wrote ${argv.out} and ${argv.picture}`);
    } finally {
      await predictor.close();
    }
  },
};
