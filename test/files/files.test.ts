import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadMnist, Dataset, IMAGE_SIZE, PIXELS } from '../../src/data/mnist';
import { resolvePredictorOptions } from '../../src/predictor';
import { createPredictor, Predictor } from '../../src/predictor';
import { predictFiles } from '../../src/files/predict-files';
import { formatHeader, formatResult } from '../../src/files/format';
import { labelledImages, walkImages } from '../../src/files/walk';
import { evaluateImages, summarizeImages } from '../../src/files/evaluate-images';
import { TEST_MODEL } from '../helpers/model';

const CLI = join(__dirname, '..', '..', 'src', 'cli', 'index.ts');

let test: Dataset;
let dir: string;
let predictor: Predictor;

const png = (i: number) => sharp(Buffer.from(test.images.subarray(i * PIXELS, (i + 1) * PIXELS)), { raw: { width: IMAGE_SIZE, height: IMAGE_SIZE, channels: 1 } }).png().toBuffer();

beforeAll(async () => {
  test = (await loadMnist()).test;
  dir = mkdtempSync(join(tmpdir(), 'mnist-files-'));
  // A queue much smaller than the folder: streaming must never overfill it.
  predictor = createPredictor(TEST_MODEL, resolvePredictorOptions({ workers: 1, maxQueue: 16, maxDecodeQueue: 16 }));
  await predictor.ready;
});
afterAll(async () => {
  await predictor.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('predictFiles', () => {
  it('answers every file of a folder ten times larger than the queue, in input order, with error lines that do not stop the run', async () => {
    const folder = join(dir, 'many');
    mkdirSync(join(folder, 'sub'), { recursive: true });
    for (let i = 0; i < 150; i++) writeFileSync(join(folder, i < 100 ? '' : 'sub', `d${String(i).padStart(3, '0')}.png`), await png(i));
    writeFileSync(join(folder, 'd050x.png'), 'not an image'); // sorts between d050 and d051
    writeFileSync(join(folder, 'notes.txt'), 'skipped: not an image ending');
    const paths = [join(folder, 'd000.png'), join(dir, 'missing.png'), folder];
    const results = [];
    for await (const r of predictFiles(walkImages(paths), (p) => p, predictor, { inFlight: 16, inFlightBytes: 1 << 20 })) results.push(r);
    expect(results).toHaveLength(1 + 1 + 151);
    expect(results.map((r) => r.index)).toEqual(results.map((_, i) => i));
    expect(results[1].error?.code).toBe('FILE_UNREADABLE');
    expect(formatResult(results[1], 'tsv')).toMatch(/missing\.png\terror\tFILE_UNREADABLE: .*ENOENT/);
    const inFolder = results.slice(2);
    expect(inFolder[51].path).toMatch(/d050x\.png$/);
    expect(inFolder[51].error?.code).toBe('IMAGE_UNSUPPORTED_FORMAT');
    const digits = inFolder.filter((r) => !r.error);
    expect(digits).toHaveLength(150);
    expect(digits.map((r) => r.path.match(/d(\d+)\.png$/)![1]).map(Number)).toEqual(Array.from({ length: 150 }, (_, i) => i));
    expect(inFolder.filter((r) => r.error?.code === 'QUEUE_FULL')).toHaveLength(0);
    const right = digits.filter((r, i) => r.result!.prediction.digit === test.labels[i]).length;
    expect(right).toBeGreaterThanOrEqual(147);
  });

  it('formats TSV, JSON lines and CSV (quoted where needed)', async () => {
    const file = join(dir, 'a,"b".png');
    writeFileSync(file, await png(0));
    const [r] = await (async () => { const out = []; for await (const x of predictFiles(walkImages([file]), (p) => p, predictor)) out.push(x); return out; })();
    const d = r.result!.prediction.digit;
    expect([formatHeader('csv'), formatHeader('tsv'), formatHeader('json')]).toEqual(['file,digit,probability,error', undefined, undefined]);
    expect(formatResult(r, 'tsv')).toMatch(new RegExp(`\\t${d}\\t[01]\\.\\d{4}$`));
    expect(JSON.parse(formatResult(r, 'json'))).toMatchObject({ file, digit: d });
    expect(formatResult(r, 'csv')).toMatch(new RegExp(`^"${dir.replace(/[/\\]/g, '.')}.a,""b"".png",${d},[01]\\.\\d{6},$`));
  });
});

describe('evaluateImages on a labelled folder', () => {
  it('counts what a hand count gives: right, per class, confusion, refusals and the misclassified files', async () => {
    const root = join(dir, 'labelled');
    // Ten digits the model reads right (test images 0-9 all are), in their own folders; two of them
    // copied into a wrong folder on purpose; one blank picture and one broken file.
    for (let i = 0; i < 10; i++) {
      mkdirSync(join(root, String(test.labels[i])), { recursive: true });
      writeFileSync(join(root, String(test.labels[i]), `t${i}.png`), await png(i));
    }
    const wrong = (test.labels[0] + 1) % 10;
    mkdirSync(join(root, String(wrong)), { recursive: true });
    writeFileSync(join(root, String(wrong), 'mislabelled-a.png'), await png(0));
    writeFileSync(join(root, String(wrong), 'mislabelled-b.png'), await png(0));
    mkdirSync(join(root, '3'), { recursive: true });
    mkdirSync(join(root, '4'), { recursive: true });
    writeFileSync(join(root, '3', 'blank.png'), await sharp({ create: { width: 60, height: 60, channels: 3, background: '#ffffff' } }).png().toBuffer());
    writeFileSync(join(root, '4', 'broken.png'), 'broken');
    const report = await evaluateImages(labelledImages(root), predictor, { inFlight: 8, withInput: 1 });
    expect(report.images).toBe(14);
    expect(report.right).toBe(10);
    expect(report.accuracy).toBeCloseTo(10 / 14, 4);
    expect(report.accuracyOfAnswered).toBeCloseTo(10 / 12, 4);
    expect(report.noDigit).toBe(1);
    expect(report.errors).toEqual({ IMAGE_UNSUPPORTED_FORMAT: 1 });
    expect(report.misclassified.map((m) => [m.label, m.number])).toEqual([[String(wrong), String(test.labels[0])], [String(wrong), String(test.labels[0])]]);
    expect(report.misclassified[0].input28).toHaveLength(784);
    expect(report.misclassified[1].input28).toBeUndefined();
    expect(report.confusion[wrong][test.labels[0]]).toBe(2);
    expect(report.confusion.flat().reduce((a, b) => a + b, 0)).toBe(12);
    const perWrong = report.perClass[wrong];
    const expectedInWrong = Array.from({ length: 10 }, (_, i) => test.labels[i]).filter((l) => l === wrong).length;
    expect(perWrong).toMatchObject({ images: expectedInWrong + 2, right: expectedInWrong });
    expect(report.ece).toBeGreaterThan(0);
    const summary = summarizeImages(report);
    expect(summary).toMatch(/^10\/14 right: 71\.43% \(of the 12 answered: 83\.33%\)/);
    expect(summary).toMatch(/refused as no digit: 1; other errors: IMAGE_UNSUPPORTED_FORMAT 1/);
    expect(summary).toMatch(/misclassified: 2, e\.g\. .*mislabelled-a\.png/);
  });

  it('reads a CSV of path,label (header skipped, paths relative to the CSV)', async () => {
    const csv = join(dir, 'labels.csv');
    writeFileSync(csv, `path,label\nlabelled/${test.labels[1]}/t1.png,${test.labels[1]}\n"labelled/${test.labels[2]}/t2.png",${test.labels[2]}\n`);
    const items = [];
    for await (const x of labelledImages(csv)) items.push(x);
    expect(items).toEqual([{ path: join(dir, 'labelled', String(test.labels[1]), 't1.png'), label: String(test.labels[1]) }, { path: join(dir, 'labelled', String(test.labels[2]), 't2.png'), label: String(test.labels[2]) }]);
    writeFileSync(csv, 'a.png,1\nb.png,2026\nc.png,007\n');
    const numbers = [];
    for await (const x of labelledImages(csv)) numbers.push(x.label);
    expect(numbers).toEqual(['1', '2026', '007']);
    writeFileSync(csv, 'a.png,1\nb.png,12a\n');
    await expect((async () => { for await (const _ of labelledImages(csv)) { /* reading is the test */ } })()).rejects.toMatchObject({ code: 'FILE_LIST_INVALID' });
  });
});

describe('the predict command', () => {
  it('reads paths from stdin with -, prints CSV in order, and exits 1 when a file failed', () => {
    const files = [0, 1, 2].map((i) => join(dir, 'labelled', String(test.labels[i]), `t${i}.png`));
    const run = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', CLI, 'predict', '--csv', '--model', TEST_MODEL, '-'],
      { input: `${files.join('\n')}\n${join(dir, 'nope.png')}\n`, encoding: 'utf8', timeout: 60_000 });
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toBe('file,digit,probability,error');
    expect(lines.slice(1, 4).map((l) => Number(l.split(',')[1]))).toEqual([0, 1, 2].map((i) => test.labels[i]));
    expect(lines[4]).toMatch(/nope\.png,,,FILE_UNREADABLE/);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/1 of 4 files failed/);
    expect(readFileSync(files[0]).length).toBeGreaterThan(0);
  });
});
