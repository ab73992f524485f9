import type { CommandModule } from 'yargs';
import type { BackendChoice } from '../backend/select-backend';

interface ExportArgs { model: string; out: string; name: string; backend: string; 'parity-images': number }

export const exportCommand: CommandModule<object, ExportArgs> = {
  command: 'export-onnx',
  describe: 'export the trained tfjs model to ONNX (fp32 and int8), check parity, evaluate, write the model card',
  builder: (y) => y.options({
    model: { type: 'string', default: 'artifacts/model', describe: 'trained tfjs model directory' },
    out: { type: 'string', default: 'artifacts', describe: 'output directory' },
    name: { type: 'string', default: 'mnist-cnn', describe: 'file name stem' },
    backend: { choices: ['auto', 'tensorflow', 'wasm', 'cpu'], default: 'auto', describe: 'tfjs backend for the parity check' },
    'parity-images': { type: 'number', default: 256, describe: 'test images compared between tfjs and onnxruntime' },
  }),
  handler: async (argv) => {
    const { exportAndVerify } = await import('../onnx/export-and-verify');
    await exportAndVerify({
      modelDir: argv.model, outDir: argv.out, name: argv.name, backend: argv.backend as BackendChoice, parityImages: argv['parity-images'],
      log: (line) => console.log(line),
    });
  },
};
