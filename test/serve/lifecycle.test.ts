import { ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { loadMnist, Dataset } from '../../src/data/mnist';
import { createRng } from '../../src/data/rng';
import { renderUpload, uploadSeed } from '../../src/uploads/conditions';
import { encodeUpload } from '../../src/uploads/evaluate-uploads';
import { encode, mnistBitmap } from '../helpers/images';
import { TEST_MODEL } from '../helpers/model';
import { startTestServer } from '../helpers/server';
import { stopDuringRequests, StopOutcome } from '../../src/deploy/stop-under-load';


let test: Dataset;
let pngs: Buffer[];
let photos: Uint8Array[];

beforeAll(async () => {
  test = (await loadMnist()).test;
  pngs = await Promise.all(Array.from({ length: 32 }, (_, i) => encode(mnistBitmap(test.images, i), 'image/png')));
  photos = await Promise.all(Array.from({ length: 16 }, async (_, i) => {
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

const REPO = join(__dirname, '..', '..');
const SERVE_ARGS = ['--port', '0', '--host', '127.0.0.1', '--workers', '1', '--model', TEST_MODEL];

interface Spawned { child: ChildProcess; url: string; output: Promise<string>; exit: Promise<number | null>; log: () => string; waitFor: (msg: string) => Promise<void> }

/**
 * Starts a server the way a user does (`command`), in its own process group; resolves with its URL once
 * /readyz answers. `output` resolves when every process of the group has closed its output.
 */
async function spawnServer(command: string, args: string[]): Promise<Spawned> {
  const child = spawn(command, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  const waiters: Array<{ msg: string; resolve: () => void }> = [];
  const onData = (c: Buffer) => {
    out += c;
    for (const w of waiters.filter((w) => out.includes(`"msg":"${w.msg}`))) { waiters.splice(waiters.indexOf(w), 1); w.resolve(); }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const output = new Promise<string>((resolve) => child.stdout!.on('close', () => resolve(out)));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const check = () => {
      const m = /"url":"(http:\/\/[^"]+)"/.exec(out);
      if (m) { child.stdout!.off('data', check); resolve(m[1]); }
    };
    child.stdout!.on('data', check);
    void output.then(() => reject(new Error(`server exited early:\n${out}`)));
  });
  for (;;) {
    if (await fetch(`${url}/readyz`).then((r) => r.status === 200, () => false)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const waitFor = (msg: string) => (out.includes(`"msg":"${msg}`) ? Promise.resolve() : new Promise<void>((resolve) => { waiters.push({ msg, resolve }); }));
  return { child, url, output, exit, log: () => out, waitFor };
}

const compiledServe = () => spawnServer(process.execPath, [join(REPO, 'dist', 'src', 'cli', 'index.js'), 'serve', ...SERVE_ARGS]);

/** The stop: every request at once on a fresh connection, the signal while they are read, decoded and inferred. */
async function stopRound(server: Spawned, signal: NodeJS.Signals, group: boolean): Promise<{ outcome: StopOutcome; output: string }> {
  const requests = [...photos.map((body) => ({ body, type: 'image/jpeg' })), ...pngs.map((body) => ({ body, type: 'image/png' }))];
  const outcome = await stopDuringRequests(`${server.url}/predict`, requests, () => process.kill(group ? -server.child.pid! : server.child.pid!, signal), 50);
  return { outcome, output: await server.output };
}

describe('start-up', () => {
  it('answers requests sent in the first milliseconds after listening (they wait for the model), never 500', async () => {
    const server = await startTestServer();
    try {
      expect(server.predictor.isReady()).toBe(false);
      const answers = await Promise.all(pngs.map((png) => fetch(`${server.url}/predict`, { method: 'POST', body: png, headers: { 'content-type': 'image/png' } })));
      expect(answers.map((a) => a.status)).toEqual(pngs.map(() => 200));
      const digits: number[] = await Promise.all(answers.map(async (a) => ((await a.json()) as { digit: number }).digit));
      expect(digits.filter((d, i) => d === test.labels[i]).length).toBeGreaterThanOrEqual(pngs.length - 2);
    } finally {
      await server.shutdown();
    }
  });
});

describe('graceful shutdown answers every request a client has sent', () => {
  it('SIGTERM 50 ms after 48 requests on fresh connections (16 photos, 32 PNGs), 20 rounds: all answered 200, exit 0, nothing unanswered', async () => {
    const rounds: string[] = [];
    for (let round = 0; round < 20; round++) {
      const server = await compiledServe();
      const { outcome, output } = await stopRound(server, 'SIGTERM', false);
      rounds.push(`${outcome.answered}/${outcome.sent}`);
      expect([round, outcome.lost, outcome.lostDetail]).toEqual([round, 0, []]);
      expect(outcome.answered).toBe(photos.length + pngs.length);
      expect(await server.exit).toBe(0);
      expect(output).toMatch(/"unanswered":0/);
    }
    console.log(`stop under load, 20 rounds: ${rounds.join(' ')}`);
  }, 600_000);

  it.each([
    ['the compiled CLI', () => compiledServe(), 3],
    ['npm start', () => spawnServer('npm', ['start', '--', ...SERVE_ARGS]), 1],
    ['make serve', () => spawnServer('make', ['serve', `MODEL=${TEST_MODEL}`, `ARGS=${SERVE_ARGS.slice(0, -2).join(' ')}`]), 1],
  ] as const)('SIGINT to the process group (Ctrl-C) under %s: all answered 200', async (_name, start, rounds) => {
    for (let round = 0; round < rounds; round++) {
      const server = await start();
      const { outcome, output } = await stopRound(server, 'SIGINT', true);
      expect([outcome.lost, outcome.lostDetail]).toEqual([0, []]);
      expect(outcome.answered).toBe(photos.length + pngs.length);
      expect(output).toMatch(/"msg":"stopped"/);
      expect(output).toMatch(/"unanswered":0/);
    }
  }, 300_000);

  it('a body half sent, a connection opened during the grace, then new connections refused once the listener closes', async () => {
    const server = await compiledServe();
    const slow = post(server.url, photos[0], true);
    const inFlight = pngs.slice(0, 8).map((p) => post(server.url, p).answer);
    process.kill(server.child.pid!, 'SIGTERM');
    await server.waitFor('shutting down');
    slow.finish();
    // During the grace the listener still accepts: a client that connects now is answered.
    const late = await post(server.url, pngs[9]).answer;
    await server.waitFor('listener closed');
    const refused = await new Promise<string>((resolve) => {
      const s = connect(Number(new URL(server.url).port), '127.0.0.1');
      s.on('connect', () => { s.destroy(); resolve('connected'); });
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    const answers = await Promise.all([slow.answer, ...inFlight]);
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    expect(late.status).toBe(200);
    expect(refused).toBe('ECONNREFUSED');
    const output = await server.output;
    expect(await server.exit).toBe(0);
    expect(output).toMatch(/"unanswered":0/);
  });

  it('a connection that stays silent through the grace is closed without an answer, and the drain still ends', async () => {
    const server = await compiledServe();
    const silent = connect(Number(new URL(server.url).port), '127.0.0.1');
    await new Promise((r) => silent.once('connect', r));
    const closed = new Promise<boolean>((r) => silent.once('close', () => r(true)));
    process.kill(server.child.pid!, 'SIGTERM');
    expect(await closed).toBe(true);
    const output = await server.output;
    expect(await server.exit).toBe(0);
    expect(output).toMatch(/"unanswered":0/);
  });
});
