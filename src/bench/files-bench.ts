import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { IMAGE_SIZE, loadMnist, PIXELS } from '../data/mnist';
import { engine32 } from './run-bench';
import { rssMb } from './photos';

export interface FilesBenchOptions { model: string; copies: number; engineSeconds: number }

interface CliRun { files: number; lines: number; right: number; filesPerSecond: number; wallSeconds: number; rssPeakMb: number; rssAtMb: Record<number, number>; exitCode: number | null }

/**
 * Runs the CLI as a user would (`predict DIR`), reading its stdout as it comes: files per second from
 * the first answer to the last (start-up excluded), the right answers against `labels` (by file name),
 * and the process's peak resident memory, sampled every 100 ms.
 */
async function runPredict(model: string, dir: string, labelOf: (file: string) => number): Promise<CliRun> {
  const cli = join(__dirname, '..', 'cli', 'index.js');
  const t0 = performance.now();
  const child = spawn(process.execPath, [cli, 'predict', '--model', model, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  let peak = 0;
  const sampler = setInterval(() => {
    const mb = rssMb(child.pid!);
    if (Number.isFinite(mb)) peak = Math.max(peak, mb); // a process that is exiting has no VmRSS line
  }, 100);
  let first = 0, last = 0, lines = 0, right = 0, rest = '';
  const rssAtMb: Record<number, number> = {};
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    const now = performance.now();
    if (!first) first = now;
    last = now;
    const parts = (rest + chunk).split('\n');
    rest = parts.pop()!;
    for (const line of parts) {
      lines++;
      if (lines % 10_000 === 0) rssAtMb[lines] = Math.round(rssMb(child.pid!)); // memory as the run goes on
      const [file, digit] = line.split('\t');
      if (Number(digit) === labelOf(file)) right++;
    }
  });
  const exitCode = await new Promise<number | null>((r) => child.on('exit', r));
  clearInterval(sampler);
  return { files: lines, lines, right, filesPerSecond: lines / ((last - first) / 1000), wallSeconds: (performance.now() - t0) / 1000, rssPeakMb: Math.round(peak), rssAtMb, exitCode };
}

/**
 * The file-folder benchmark: the 10,000 MNIST test digits as PNG files through `predict` against the raw
 * onnxruntime throughput measured in the same run (before and after), the same with `copies` × 10,000
 * files for memory, and `evaluate-images` on the test set laid out as DIR/<digit>/.
 */
export async function runFilesBench(opts: FilesBenchOptions, log: (line: string) => void = console.log): Promise<Record<string, unknown>> {
  const { test } = await loadMnist();
  const root = mkdtempSync(join(tmpdir(), 'mnist-files-bench-'));
  try {
    const flat = join(root, 'flat');
    const many = join(root, 'many');
    const labelled = join(root, 'labelled');
    mkdirSync(flat);
    mkdirSync(many);
    for (let d = 0; d < 10; d++) mkdirSync(join(labelled, String(d)), { recursive: true });
    for (let i = 0; i < test.count; i++) {
      const png = await sharp(Buffer.from(test.images.subarray(i * PIXELS, (i + 1) * PIXELS)), { raw: { width: IMAGE_SIZE, height: IMAGE_SIZE, channels: 1 } }).png().toBuffer();
      const name = `${String(i).padStart(5, '0')}.png`;
      writeFileSync(join(flat, name), png);
      writeFileSync(join(labelled, String(test.labels[i]), name), png);
      for (let c = 0; c < opts.copies; c++) writeFileSync(join(many, `${c}-${name}`), png);
    }
    log(`wrote ${test.count} + ${test.count * opts.copies} PNG files under ${root}`);
    const labelOf = (file: string) => test.labels[Number(/(\d{5})\.png$/.exec(file)?.[1] ?? -1)];
    const before = await engine32(opts.model, 2, opts.engineSeconds);
    const tenK = await runPredict(opts.model, flat, labelOf);
    const after = await engine32(opts.model, 2, opts.engineSeconds);
    const engine = (before.imagesPerSecond + after.imagesPerSecond) / 2;
    log(`predict, 10,000 files: ${tenK.files} answered, ${tenK.right} right, ${tenK.filesPerSecond.toFixed(0)} files/s (engine batch 32 around it: ${engine.toFixed(0)} img/s → ${(tenK.filesPerSecond / engine).toFixed(2)}), peak RSS ${tenK.rssPeakMb} MB`);
    const hundredK = await runPredict(opts.model, many, labelOf);
    log(`predict, ${test.count * opts.copies} files: ${hundredK.files} answered, ${hundredK.right} right, ${hundredK.filesPerSecond.toFixed(0)} files/s, peak RSS ${hundredK.rssPeakMb} MB; ` +
      `RSS after each 10,000 files: ${Object.values(hundredK.rssAtMb).join(', ')} MB`);
    const out = join(root, 'evaluate-images');
    const cli = join(__dirname, '..', 'cli', 'index.js');
    await new Promise<void>((resolve, reject) => spawn(process.execPath, [cli, 'evaluate-images', labelled, '--model', opts.model, '--out', out], { stdio: ['ignore', 'ignore', 'inherit'] })
      .on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`evaluate-images exited with ${c}`)))));
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    log(`evaluate-images on DIR/<digit>/: ${report.right}/${report.images} = ${(100 * report.accuracy).toFixed(2)}%, ECE ${report.ece}`);
    return {
      date: new Date().toISOString(), model: opts.model, machine: 'this machine (2 cores)',
      engineBatch32ImagesPerSecond: { before: before.imagesPerSecond, after: after.imagesPerSecond },
      predict10k: { ...tenK, overEngine: Number((tenK.filesPerSecond / engine).toFixed(3)) },
      predictMany: hundredK,
      evaluateImages: { images: report.images, right: report.right, accuracy: report.accuracy, ece: report.ece, noDigit: report.noDigit, errors: report.errors },
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
