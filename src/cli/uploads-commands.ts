import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { updateCardForDigitScore, updateCardForPairDigits, updateCardForPairScore } from '../onnx/model-card';
import { DIGIT_SCORE_FIT_DEFAULTS, fitDigitScore } from '../uploads/fit-digit-score';
import { fitPairScore } from '../train/fit-pair-score';
import { fitPairDigits } from '../train/fit-pair-digits';
import type { CommandModule } from 'yargs';
import { resolveServeConfig, SERVE_DEFAULTS, type ServeConfig } from '../serve/config';
import { createPredictor, NUMBER_CALIBRATION, type Predictor } from '../predictor';
import { evaluateMnistPngs, evaluateUploads, UploadExample, UPLOADS_DEFAULTS } from '../uploads/evaluate-uploads';
import { CORRUPTED_DEFAULTS, evaluateCorrupted } from '../uploads/evaluate-corrupted';
import { CORRUPTION_KINDS, CorruptionKind } from '../data/corruptions';
import { examplesPicture } from '../uploads/examples-picture';
import { EMPTY_CONDITIONS, UPLOAD_CONDITIONS } from '../uploads/conditions';
import { NON_DIGIT_FAMILIES } from '../uploads/non-digits';
import { LAYOUT_FAMILIES } from '../uploads/layouts';
import { tradeoffPlot } from '../uploads/tradeoff-plot';
import { evaluateNumbers, NumberExample, numbersPicture, NUMBER_SETS, NUMBERS_DEFAULTS } from '../uploads/evaluate-numbers';
import { fitNumberCalibration, NUMBER_CALIBRATION_FIT_DEFAULTS } from '../uploads/fit-number-calibration';
import { loadMnist, stratifiedSplit, subset } from '../data/mnist';
import { TRAIN_DEFAULTS } from '../train/config';

interface Args { model?: string; only?: string[]; mnist: boolean; failures?: string; seed: number; 'per-condition': number; 'per-empty': number; 'per-family': number; 'per-layout': number; out: string; picture: string; tradeoff: string; decoder: string }

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/**
 * Runs `run` with a predictor for an evaluation or a fit over generated pictures (one inference worker,
 * two decoding threads, a batch sent as soon as it is queued), closed after it whatever happens.
 */
async function withPredictor(model: string | undefined, options: Partial<ServeConfig>, run: (predictor: Predictor, config: ServeConfig) => Promise<void>): Promise<void> {
  const config = resolveServeConfig({ model: model ?? process.env.MODEL, workers: 1, decodeWorkers: 2, maxBatchDelayMs: 1, ...options });
  const predictor = createPredictor(config.model, config, { log: (m) => console.error(m) });
  await predictor.ready;
  try {
    await run(predictor, config);
  } finally {
    await predictor.close();
  }
}

/**
 * Writes every example read wrong into `dir`: the file as sent (`name`.png or .jpg) and beside it
 * `name`-`suffix`.png, the picture `picture` draws of it (what the model saw, or the boxes read).
 */
async function writeFailures<E extends { right: boolean; bytes: Uint8Array }>(dir: string, examples: E[], name: (e: E) => string,
  suffix: string, picture: (e: E) => Promise<Buffer>): Promise<void> {
  mkdirSync(dir, { recursive: true });
  for (const e of examples.filter((x) => !x.right)) {
    const base = join(dir, name(e));
    writeFileSync(`${base}.${e.bytes[0] === 0x89 ? 'png' : 'jpg'}`, e.bytes);
    writeFileSync(`${base}-${suffix}.png`, await picture(e));
  }
}

export const evaluateUploadsCommand: CommandModule<object, Args> = {
  command: 'evaluate-uploads',
  describe: 'accuracy on realistic uploads (photos, scans, canvas exports) made from MNIST test digits',
  builder: (y) => y.options({
    model: { type: 'string', describe: `ONNX model (default ${SERVE_DEFAULTS.model})` },
    seed: { type: 'number', default: UPLOADS_DEFAULTS.seed, describe: 'seed of the generated set (2 is the held-out set the README reports; tune on 1)' },
    'per-condition': { type: 'number', default: UPLOADS_DEFAULTS.perCondition, describe: 'uploads per condition' },
    'per-empty': { type: 'number', default: UPLOADS_DEFAULTS.perEmptyCondition, describe: 'pictures with no digit, per kind' },
    'per-family': { type: 'number', default: UPLOADS_DEFAULTS.perNonDigitFamily, describe: 'marks that are not digits, per family' },
    'per-layout': { type: 'number', default: UPLOADS_DEFAULTS.perLayout, describe: 'digits per layout family' },
    only: { type: 'string', array: true, describe: `only these conditions or families (of ${[...UPLOAD_CONDITIONS, ...LAYOUT_FAMILIES, ...EMPTY_CONDITIONS, ...NON_DIGIT_FAMILIES].join(', ')})` },
    failures: { type: 'string', describe: 'folder to write every misread upload to, with what the model saw' },
    mnist: { type: 'boolean', default: true, describe: 'also post the 10,000 MNIST test digits as 28×28 PNGs' },
    decoder: { choices: ['auto', 'sharp', 'jimp'], default: 'auto', describe: 'photo decoder' },
    out: { type: 'string', default: 'artifacts/uploads-report.json', describe: 'report file' },
    picture: { type: 'string', default: 'artifacts/uploads-examples.png', describe: 'picture of a few uploads and what the model saw' },
    tradeoff: { type: 'string', default: 'artifacts/not-a-digit.svg', describe: 'plot of non-digits refused against digits kept as the digit-score line moves' },
  }),
  handler: async (argv) => {
    const { test } = await loadMnist();
    // notDigit 'flag': a refused mark's digit score is still known, for the AUROC and the trade-off plot.
    await withPredictor(argv.model, { decoder: argv.decoder as never, notDigit: 'flag' }, async (predictor, config) => {
      const examples: UploadExample[] = [];
      const t0 = performance.now();
      const report = await evaluateUploads(predictor, test, {
        ...UPLOADS_DEFAULTS, only: argv.only, seed: argv.seed, perCondition: argv['per-condition'], perEmptyCondition: argv['per-empty'], perNonDigitFamily: argv['per-family'], perLayout: argv['per-layout'],
      }, (e) => examples.push(e));
      const { scores, ...saved } = report;
      console.log(`seed ${report.seed}: ${report.overall.right}/${report.overall.images} right (${pct(report.overall.accuracy)}), ECE of the answers' probability ${report.overall.ece}`);
      for (const c of report.conditions) {
        const errors = Object.entries(c.errors).map(([k, v]) => `${k} ${v}`).join(', ');
        console.log(`  ${c.condition.padEnd(18)} ${pct(c.accuracy).padStart(6)}  wrong ${c.wrong}, no digit ${c.noDigit} (not a digit ${c.notDigit})${errors ? `, ${errors}` : ''}  ${c.meanMs} ms`);
      }
      if (report.layouts.length) {
        const ls = report.layoutSummary;
        console.log(`layout families: tuned ${pct(ls.tuned)} (worst ${pct(ls.worstTuned)}), held out ${pct(ls.heldOut)} (worst ${pct(ls.worstHeldOut)})`);
        for (const c of report.layouts) console.log(`  ${c.condition.padEnd(18)} ${c.heldOut ? 'held out' : 'tuned   '} ${pct(c.accuracy).padStart(6)}  wrong ${c.wrong}, no digit ${c.noDigit} (not a digit ${c.notDigit})  ${c.meanMs} ms`);
      }
      console.log(`no-digit pictures refused: ${report.emptyRefused.refused}/${report.emptyRefused.images}`);
      for (const c of report.empty) console.log(`  ${c.condition.padEnd(18)} ${c.noDigit}/${c.images} refused`);
      const nd = report.nonDigitRefused;
      console.log(`not digits refused: tuned families ${pct(nd.tuned)} (AUROC ${nd.aurocTuned}), held-out families ${pct(nd.heldOut)} (AUROC ${nd.aurocHeldOut})`);
      for (const f of report.nonDigits) {
        const answered = Object.entries(f.answered).map(([d, k]) => `${d}×${k}`).join(' ');
        console.log(`  ${f.family.padEnd(18)} ${f.heldOut ? 'held out' : 'tuned   '} ${f.refused}/${f.images} refused (${f.notDigit} by the digit score)${answered ? `; read as ${answered}` : ''}`);
      }
      const mnist = argv.mnist ? await evaluateMnistPngs(predictor, test) : undefined;
      if (mnist) console.log(`MNIST test set as 28×28 PNGs: ${mnist.right}/${mnist.images} right (${pct(mnist.accuracy)}), ${mnist.noDigit} refused as no digit (${mnist.notDigit} by the digit score), ${mnist.errors} errors, ${mnist.passthrough} passed through unchanged`);
      if (scores.digits.length) writeFileSync(argv.tradeoff, tradeoffPlot(scores, config.minDigitScore));
      writeFileSync(argv.out, `${JSON.stringify({ ...saved, mnistTestPngs: mnist, model: config.model, decoder: config.decoder, seconds: Number(((performance.now() - t0) / 1000).toFixed(1)) }, null, 2)}\n`);
      const isMark = (e: UploadExample) => e.condition.includes('/');
      const isLayout = (e: UploadExample) => (LAYOUT_FAMILIES as readonly string[]).includes(e.condition);
      const firsts = examples.filter((e) => e.index === 0 && !isMark(e) && !isLayout(e));
      const layoutFirsts = examples.filter((e) => e.index === 0 && isLayout(e));
      const marks = examples.filter((e) => e.index === 0 && isMark(e));
      if (argv.failures) {
        await writeFailures(argv.failures, examples, (e) => `${e.condition.replace(/\//g, '-')}-${e.index}-label${e.label ?? 'none'}-got${e.answer}`,
          'seen', (e) => examplesPicture([e]));
      }
      if (firsts.length) writeFileSync(argv.picture, await examplesPicture(firsts));
      if (marks.length) writeFileSync(argv.picture.replace(/uploads-examples/, 'not-a-digit-examples'), await examplesPicture(marks));
      if (layoutFirsts.length) writeFileSync(argv.picture.replace(/uploads-examples/, 'layouts-examples'), await examplesPicture(layoutFirsts));
      console.log(`wrote ${argv.out}, ${argv.picture}${scores.digits.length ? ` and ${argv.tradeoff}` : ''}`);
    });
  },
};

interface FitArgs { model: string; out?: string; card: string; quick: boolean; 'line-numbers': number }

export const fitDigitScoreCommand: CommandModule<object, FitArgs> = {
  command: 'fit-digit-score',
  describe: 'fit the digit-score head (digit or not) on fc1 from digits and the tuned non-digit families, and add it to the model',
  builder: (y) => y.options({
    model: { type: 'string', default: SERVE_DEFAULTS.model, describe: 'ONNX model to add the head to (an earlier head is replaced)' },
    out: { type: 'string', describe: 'where to write the model with the head (default: over --model)' },
    card: { type: 'string', default: 'artifacts/model-card.json', describe: 'model card to bring up to date when it describes --out' },
    quick: { type: 'boolean', default: false, describe: 'a small fit (minutes fewer, a weaker head): for trying the command' },
    'line-numbers': { type: 'number', default: DIGIT_SCORE_FIT_DEFAULTS.lineNumbersPerKind, describe: 'numbers of training digits per kind (gaps, touching) whose line candidates join the digits (0: none; see docs/not-a-digit.md)' },
  }),
  handler: async (argv) => {
    const out = argv.out ?? argv.model;
    await withPredictor(argv.model, { notDigit: 'flag' }, async (predictor) => {
      const quick = argv.quick ? { mnistDigits: 2000, digitUploadsPerCondition: 5, damagedDigits: 600, markUploadsPerFamily: 10, validationUploadsPerCondition: 5, validationMarksPerFamily: 10, validationLineNumbersPerKind: 5 } : {};
      const { model, report } = await fitDigitScore(argv.model, predictor, { lineNumbersPerKind: argv.quick ? 5 : argv['line-numbers'], ...quick }, (m) => console.error(m));
      writeFileSync(out, model);
      const v = report.validation;
      console.log(`digit score fitted on ${report.fit.digits} digits (${report.fit.lineDigits} from lines) and ${report.fit.nonDigits} non-digits in ${report.seconds} s; `
        + `validation: ${v.refusedDigits}/${v.digits} digits refused, ${v.refusedMarks}/${v.marks} tuned-family marks refused; wrote ${out}`);
      if (updateCardForDigitScore(argv.card, out, report)) console.log(`updated ${argv.card} and MODEL_CARD.md`);
    });
  },
};

interface FitPairArgs { model: string; out?: string; card: string; quick: boolean }

/** The options of a command that fits a head and adds it to a model; `replaced` says what of the model it replaces and keeps. */
const headFitOptions = (replaced: string) => ({
  model: { type: 'string', default: SERVE_DEFAULTS.model, describe: `ONNX model to add the head to (${replaced})` },
  out: { type: 'string', describe: 'where to write the model with the head (default: over --model)' },
  card: { type: 'string', default: 'artifacts/model-card.json', describe: 'model card to bring up to date when it describes --out' },
  quick: { type: 'boolean', default: false, describe: 'a small fit (minutes fewer, a weaker head): for trying the command' },
} as const);

export const fitPairScoreCommand: CommandModule<object, FitPairArgs> = {
  command: 'fit-pair-score',
  describe: 'fit the pair-score head (one digit or two run together) on fc1 from digits, non-digit marks and touching pairs, and add it to the model',
  builder: (y) => y.options(headFitOptions('an earlier pair head is replaced, the digit-score head kept')),
  handler: async (argv) => {
    const out = argv.out ?? argv.model;
    const quick = argv.quick ? { mnistDigits: 1000, digitUploadsPerCondition: 3, pairUploadsPerCondition: 6, validationUploadsPerCondition: 3, marksPerFamily: 5, lineNumbersPerKind: 4, validationMarksPerFamily: 3, lineDigits: 1000 } : {};
    const { model, report } = await fitPairScore(argv.model, quick, (m) => console.error(m));
    writeFileSync(out, model);
    const v = report.validation;
    console.log(`pair score fitted on ${report.fit.digits} digits (${report.fit.lineDigits} from lines), ${report.fit.marks} non-digit marks and ${report.fit.pairs} pairs (${report.fit.linePairs} from lines) in ${report.seconds} s; validation at ${v.gate}: `
      + `${v.mnistDigitsAtGate}/${v.mnistDigits} MNIST digits, ${v.digitUploadsAtGate}/${v.digitUploads} uploaded digits, ${v.marksAtGate}/${v.marks} marks, ${v.pairsAtGate}/${v.pairs} pairs; wrote ${out}`);
    if (updateCardForPairScore(argv.card, out, report)) console.log(`updated ${argv.card} and MODEL_CARD.md`);
  },
};

export const fitPairDigitsCommand: CommandModule<object, FitPairArgs> = {
  command: 'fit-pair-digits',
  describe: 'fit the pair reader (which two digits, "00"–"99", a box of two touching digits holds, or none) on fc1 and add it to the model',
  builder: (y) => y.options(headFitOptions('an earlier pair reader is replaced, the score heads kept')),
  handler: async (argv) => {
    const out = argv.out ?? argv.model;
    const quick = argv.quick ? { composedPairs: 2000, mnistDigits: 300, digitUploadsPerCondition: 2, marksPerFamily: 3, pairUploadsPerCondition: 4, lineNumbersPerKind: 4, validationComposed: 200, validationUploadsPerCondition: 2, epochs: 2 } : {};
    const { model, report } = await fitPairDigits(argv.model, quick, (m) => console.error(m));
    writeFileSync(out, model);
    const v = report.validation;
    console.log(`pair reader fitted on ${report.fit.composed} composed pairs, ${report.fit.uploads} uploads and ${report.fit.linePairs} line candidates, ${report.fit.notPairs} no pair, in ${report.seconds} s; `
      + `validation: ${pct(v.composedAccuracy)} of ${v.composed} composed pairs, ${pct(v.uploadsAccuracy)} of ${v.uploads} uploads, ${pct(v.notPairsAccuracy)} of ${v.notPairs} digits and marks no pair; wrote ${out}`);
    if (updateCardForPairDigits(argv.card, out, report)) console.log(`updated ${argv.card} and MODEL_CARD.md`);
  },
};

interface NumbersArgs { model?: string; seed: number; 'per-set': number; out: string; picture: string; only?: string[]; failures?: string }

export const evaluateNumbersCommand: CommandModule<object, NumbersArgs> = {
  command: 'evaluate-numbers',
  describe: 'whole numbers (2–8 handwritten digits, apart or touching) on realistic pages, made from MNIST test digits',
  builder: (y) => y.options({
    model: { type: 'string', describe: `ONNX model (default ${SERVE_DEFAULTS.model})` },
    seed: { type: 'number', default: NUMBERS_DEFAULTS.seed, describe: 'seed of the generated numbers (2 is held out; the reading was tuned on 1)' },
    'per-set': { type: 'number', default: NUMBERS_DEFAULTS.perSet, describe: 'numbers per set (gaps, touching, long)' },
    out: { type: 'string', default: 'artifacts/numbers-report.json', describe: 'report file' },
    picture: { type: 'string', default: 'artifacts/numbers-examples.png', describe: 'picture of a few numbers with the boxes of the digits read' },
    only: { type: 'string', array: true, choices: NUMBER_SETS.map((x) => x.name), describe: 'only these sets' },
    failures: { type: 'string', describe: 'folder to write every misread number to, with the boxes of the digits read' },
  }),
  handler: async (argv) => {
    const { test } = await loadMnist();
    await withPredictor(argv.model, {}, async (predictor, config) => {
      const examples: NumberExample[] = [];
      const t0 = performance.now();
      const report = await evaluateNumbers(predictor, test, { ...NUMBERS_DEFAULTS, seed: argv.seed, perSet: argv['per-set'], sets: argv.only }, (e) => examples.push(e));
      console.log(`seed ${report.seed}: whole numbers ${pct(report.accuracy)} right; whole-number probability ECE ${report.ece} (calibrated answers would show ${report.eceFloor}; mean probability ${report.meanProbability})`);
      for (const s of report.sets) {
        const errors = Object.entries(s.errors).map(([k, v]) => `${k} ${v}`).join(', ');
        console.log(`  ${s.set.padEnd(9)} ${s.lengths.join('–')} digits: ${s.right}/${s.images} (${pct(s.accuracy)}), per digit ${pct(s.digitAccuracy)}, ECE ${s.ece} (floor ${s.eceFloor})${errors ? `, ${errors}` : ''}  ${s.meanMs} ms`);
      }
      writeFileSync(argv.out, `${JSON.stringify({ ...report, model: config.model, seconds: Number(((performance.now() - t0) / 1000).toFixed(1)) }, null, 2)}\n`);
      if (argv.failures) {
        await writeFailures(argv.failures, examples, (e) => `${e.set}-${e.index}-label${e.label}-got${e.answer}`,
          'read', (e) => numbersPicture([e], 1));
      }
      writeFileSync(argv.picture, await numbersPicture(examples.filter((e) => e.index < NUMBERS_DEFAULTS.examples)));
      console.log(`wrote ${argv.out} and ${argv.picture}`);
    });
  },
};

interface NumberCalibrationArgs { model?: string; seeds: number[]; 'per-set': number }

export const fitNumberCalibrationCommand: CommandModule<object, NumberCalibrationArgs> = {
  command: 'fit-number-calibration',
  describe: 'fits the map from a number\'s raw reading probability to a calibrated one, on numbers of MNIST validation digits, and prints it for NUMBER_CALIBRATION',
  builder: (y) => y.options({
    model: { type: 'string', describe: `ONNX model (default ${SERVE_DEFAULTS.model})` },
    seeds: { type: 'number', array: true, default: NUMBER_CALIBRATION_FIT_DEFAULTS.seeds, describe: 'seeds of the numbers (never 1, 2, 3: evaluate-numbers\' own)' },
    'per-set': { type: 'number', default: NUMBER_CALIBRATION_FIT_DEFAULTS.perSet, describe: 'numbers per set and seed' },
  }),
  handler: async (argv) => {
    const { train } = await loadMnist();
    // The digits the default training run held out.
    const validation = subset(train, stratifiedSplit(train.labels, TRAIN_DEFAULTS.valCount, TRAIN_DEFAULTS.seed).val);
    await withPredictor(argv.model, {}, async (predictor) => {
      const fit = await fitNumberCalibration(predictor, validation, { ...NUMBER_CALIBRATION_FIT_DEFAULTS, seeds: argv.seeds, perSet: argv['per-set'] }, (m) => console.error(m));
      const round = (x: number) => Number(x.toFixed(3));
      console.log(`${fit.readings} of ${fit.numbers} numbers answered with a line reading; ECE over the answers ${fit.ece.before.toFixed(4)} with the map in use, `
        + `${fit.ece.after.toFixed(4)} with the fitted one (a calibrated answer would show ${fit.ece.floor.toFixed(4)} on as many)`);
      console.log(`in use: ${JSON.stringify(NUMBER_CALIBRATION)}`);
      console.log(`fitted: ${JSON.stringify(Object.fromEntries(Object.entries(fit.calibration).map(([k, v]) => [k, round(v)])))}`);
    });
  },
};

interface CorruptedArgs { model?: string; seed: number; count: number; kinds?: string[]; out: string }

export const evaluateCorruptedCommand: CommandModule<object, CorruptedArgs> = {
  command: 'evaluate-corrupted',
  describe: 'the MNIST test digits under 15 kinds of damage (noise, blur, fog, lines, inverted bands, outlines…), by the model alone and through the server\'s path',
  builder: (y) => y.options({
    model: { type: 'string', describe: `ONNX model (default ${SERVE_DEFAULTS.model})` },
    seed: { type: 'number', default: CORRUPTED_DEFAULTS.seed, describe: 'seed of the corruptions (training augments with others)' },
    count: { type: 'number', default: CORRUPTED_DEFAULTS.count, describe: 'test images per kind' },
    kinds: { type: 'array', string: true, choices: CORRUPTION_KINDS, describe: 'only these kinds (default all)' },
    out: { type: 'string', default: 'artifacts/corrupted-report.json', describe: 'report file' },
  }),
  handler: async (argv) => {
    const { test } = await loadMnist();
    await withPredictor(argv.model, {}, async (predictor, config) => {
      const t0 = performance.now();
      const opts = { seed: argv.seed, count: argv.count, kinds: (argv.kinds as CorruptionKind[] | undefined) ?? CORRUPTED_DEFAULTS.kinds };
      const report = await evaluateCorrupted(predictor, test, opts, (r) =>
        console.log(`${r.kind.padEnd(14)} model alone ${pct(r.modelAccuracy)}, through the server ${pct(r.serverAccuracy)} (${r.refused} refused)`));
      console.log(`mean: model alone ${pct(report.meanModelAccuracy)}, through the server ${pct(report.meanServerAccuracy)}; worst through the server: ${report.worstServer.kind} ${pct(report.worstServer.accuracy)}`);
      writeFileSync(argv.out, `${JSON.stringify({ ...report, model: config.model, seconds: Number(((performance.now() - t0) / 1000).toFixed(1)) }, null, 2)}\n`);
      console.log(`wrote ${argv.out}`);
    });
  },
};
