import { ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { loadMnist, Dataset } from '../../src/data/mnist';
import { createRng } from '../../src/data/rng';
import { startServer } from '../../src/serve/server';
import { renderUpload, uploadSeed } from '../../src/uploads/conditions';
import { encodeUpload } from '../../src/uploads/evaluate-uploads';
import { encode, mnistBitmap } from '../helpers/images';

const MODEL = process.env.TEST_MODEL ?? 'artifacts/mnist-cnn.int8.onnx';
const CLI = join(__dirname, '..', '..', 'src', 'cli', 'index.ts');

let test: Dataset;
let pngs: Buffer[];
let photos: Uint8Array[];

beforeAll(async () => {
  test = (await loadMnist()).test;
  pngs = await Promise.all(Array.from({ length: 24 }, (_, i) => encode(mnistBitmap(test.images, i), 'image/png')));
  photos = await Promise.all(Array.from({ length: 8 }, async (_, i) => {
    const rng = createRng(uploadSeed(5, 'low-light', i));
    return encodeUpload(renderUpload('low-light', test.images, rng.int(test.count), rng));
  }));
});

interface Answer { status: number; body: string }

/** POST /predict; `hold` sends the first half of the body now and the rest when the returned function is called. */
function post(url: string, body: Uint8Array, hold = false): { answer: Promise<Answer>; finish: () => void } {
  let finish = () => {};
  const answer = new Promise<Answer>((resolve, reject) => {
    const req = request(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': body.length } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    if (!hold) req.end(body);
    else {
      req.write(body.subarray(0, body.length >> 1));
      finish = () => req.end(body.subarray(body.length >> 1));
    }
  });
  return { answer, finish };
}

/** Starts `serve` from the CLI in its own process group; resolves with its URL once it is ready. */
async function spawnServer(): Promise<{ child: ChildProcess; url: string; exit: Promise<[number | null, string | null]>; log: () => string }> {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', CLI, 'serve', '--port', '0', '--host', '127.0.0.1', '--workers', '1', '--model', MODEL],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout!.on('data', (c) => { out += c; });
  child.stderr!.on('data', (c) => { out += c; });
  const exit = new Promise<[number | null, string | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const m = /"url":"(http:\/\/[^"]+)"/.exec(out);
      if (m) { clearInterval(timer); resolve(m[1]); }
    }, 50);
    void exit.then(() => { clearInterval(timer); reject(new Error(`server exited early:\n${out}`)); });
  });
  for (;;) {
    const ready = await fetch(`${url}/readyz`).then((r) => r.status === 200, () => false);
    if (ready) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, url, exit, log: () => out };
}

describe('start-up', () => {
  it('answers requests sent in the first milliseconds after listening (they wait for the model), never 500', async () => {
    const server = await startServer({ port: 0, host: '127.0.0.1', model: MODEL, logLevel: 'silent', workers: 1 });
    try {
      expect(server.predictor.isReady()).toBe(false);
      const answers = await Promise.all(pngs.map((png) => fetch(`${server.url}/predict`, { method: 'POST', body: png, headers: { 'content-type': 'image/png' } })));
      expect(answers.map((a) => a.status)).toEqual(pngs.map(() => 200));
      const digits: number[] = await Promise.all(answers.map(async (a) => ((await a.json()) as { digit: number }).digit));
      expect(digits.filter((d, i) => d === test.labels[i]).length).toBeGreaterThanOrEqual(22);
    } finally {
      await server.shutdown();
    }
  });
});

describe('graceful shutdown answers every accepted request', () => {
  it.each([
    ['SIGTERM to the process (a container runtime)', 'SIGTERM', false],
    ['SIGINT to the process group (Ctrl-C in a terminal)', 'SIGINT', true],
  ] as const)('%s', async (_name, signal, group) => {
    const { child, url, exit, log } = await spawnServer();
    // Every stage at once: photos queued for and in the decoding worker, small PNGs, a body half sent.
    const slow = post(url, photos[0], true);
    const inFlight = [...photos.map((p) => post(url, p).answer), ...pngs.map((p) => post(url, p).answer)];
    await new Promise((r) => setTimeout(r, 150)); // the server has read their headers by now
    process.kill(group ? -child.pid! : child.pid!, signal);
    await new Promise((r) => setTimeout(r, 100));
    slow.finish();
    // No new connections once draining: the listening socket is closed.
    const refused = await new Promise<string>((resolve) => {
      const s = connect(Number(new URL(url).port), '127.0.0.1');
      s.on('connect', () => { s.destroy(); resolve('connected'); });
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    const answers = await Promise.all([slow.answer, ...inFlight]);
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    expect(refused).toBe('ECONNREFUSED');
    const [code, sig] = await exit;
    expect([code, sig]).toEqual([0, null]);
    expect(log()).toMatch(/"unanswered":0/);
  });
});
