import type { Dataset } from '../data/mnist';
import { createEceAccumulator, eceFloor } from '../metrics/classification';
import { boundedLogit, calibrateNumber, type NumberCalibration, type Predictor } from '../predictor';
import { fitLogistic } from '../train/calibration';
import { evaluateNumbers } from './evaluate-numbers';

/**
 * Fitting the whole-number probability's calibration (NUMBER_CALIBRATION) on numbers written with MNIST
 * validation digits, seeds of their own: never the test digits that `make evaluate-numbers` writes, nor
 * its seeds (1 tuned the reading, 2 is held out, 3 is the second look).
 */
export interface NumberCalibrationFitOptions {
  seeds: number[];
  perSet: number; // numbers per set (gaps, touching, long) and seed
  concurrency: number;
}

export const NUMBER_CALIBRATION_FIT_DEFAULTS: Readonly<NumberCalibrationFitOptions> = Object.freeze({ seeds: [11, 12, 13, 14], perSet: 400, concurrency: 4 });

export interface NumberCalibrationFit {
  calibration: NumberCalibration;
  numbers: number; // numbers written
  readings: number; // answered with a line reading of two digits or more: what the map applies to
  /** Over the numbers answered at all (a one-digit answer keeps its own probability): before and after the map, and the noise floor after. */
  ece: { before: number; after: number; floor: number };
}

/** A line reading's features in the order of `NumberCalibration`'s weights. */
const features = (raw: number, digits: number, touching: boolean) => [1, boundedLogit(raw), digits, touching ? 1 : 0];

/**
 * Sends the numbers through `predictor` (the server's path), takes each line reading's raw probability
 * and whether it separated touching digits, and fits the map's weights by logistic regression on
 * whether the number was read right.
 */
export async function fitNumberCalibration(predictor: Predictor, digits: Dataset, opts: NumberCalibrationFitOptions,
  log: (msg: string) => void = () => {}): Promise<NumberCalibrationFit> {
  const answers: { probability: number; line?: { raw: number; touching: boolean }; digits: number; right: boolean }[] = [];
  let numbers = 0;
  for (const seed of opts.seeds) {
    const report = await evaluateNumbers(predictor, digits, { seed, perSet: opts.perSet, concurrency: opts.concurrency, examples: opts.perSet }, (e) => {
      if (!e.prediction) return;
      const line = e.lineReading && { raw: e.lineReading.rawProbability, touching: e.lineReading.touching };
      answers.push({ probability: e.prediction.probability, line, digits: e.prediction.number?.length ?? 1, right: e.right });
    });
    numbers += report.sets.reduce((s, x) => s + x.images, 0);
    log(`seed ${seed}: ${(report.accuracy * 100).toFixed(1)}% of the numbers read right`);
  }
  const lines = answers.filter((a) => a.line);
  const w = fitLogistic(lines.map((a) => features(a.line!.raw, a.digits, a.line!.touching)), lines.map((a) => a.right), [0, 1, 0, 0]);
  const calibration = { bias: w[0], logitWeight: w[1], perDigit: w[2], touching: w[3] };
  const after = answers.map((a) => (a.line ? calibrateNumber(a.line.raw, a.digits, a.line.touching, calibration) : a.probability));
  const ece = (probabilities: number[]) => {
    const acc = createEceAccumulator();
    probabilities.forEach((p, i) => acc.add(p, answers[i].right));
    return acc.value();
  };
  return {
    calibration,
    numbers,
    readings: lines.length,
    ece: { before: ece(answers.map((a) => a.probability)), after: ece(after), floor: eceFloor(after) },
  };
}
