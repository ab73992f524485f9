#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { trainCommand, evaluateCommand, dataCommand, benchTrainCommand, reportCommand, outlierMarksCommand } from './train-commands';
import { exportCommand } from './onnx-commands';
import { serveCommand, benchCommand, benchFilesCommand } from './serve-commands';
import { predictCommand, evaluateImagesCommand } from './files-commands';
import { evaluateCorruptedCommand, evaluateNumbersCommand, evaluateUploadsCommand, fitDigitScoreCommand, fitNumberCalibrationCommand, fitPairDigitsCommand, fitPairScoreCommand } from './uploads-commands';
import { fuzzCommand } from './fuzz-commands';
import { containerTestCommand } from './deploy-commands';
import { AppError } from '../errors';
import { STDIN_PATH } from '../files/walk';

/** The command-line interface: each Make target calls one subcommand. */
export async function main(argv: string[] = hideBin(process.argv)): Promise<void> {
  // yargs drops a lone '-' (the usual name for stdin); /dev/stdin survives it and means the same here.
  await yargs(argv.map((a) => (a === '-' ? STDIN_PATH : a)))
    .scriptName('mnist-onnx')
    .command(dataCommand)
    .command(trainCommand)
    .command(outlierMarksCommand)
    .command(evaluateCommand)
    .command(reportCommand)
    .command(benchTrainCommand)
    .command(exportCommand)
    .command(serveCommand)
    .command(predictCommand)
    .command(benchCommand)
    .command(benchFilesCommand)
    .command(evaluateUploadsCommand)
    .command(evaluateNumbersCommand)
    .command(evaluateCorruptedCommand)
    .command(fitDigitScoreCommand)
    .command(fitPairScoreCommand)
    .command(fitPairDigitsCommand)
    .command(fitNumberCalibrationCommand)
    .command(evaluateImagesCommand)
    .command(fuzzCommand)
    .command(containerTestCommand)
    .demandCommand(1, 'name a command')
    .strict()
    .fail((msg, err) => {
      if (err) throw err;
      console.error(msg);
      process.exit(2);
    })
    .help()
    .parseAsync();
}

if (require.main === module) {
  main().catch((err: unknown) => {
    if (err instanceof AppError) console.error(`error ${err.code}: ${err.message}`);
    else console.error(err);
    process.exit(1);
  });
}
