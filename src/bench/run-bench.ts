import { spawn, execFile, ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Jimp } from 'jimp';
import { loadMnist, PIXELS, IMAGE_SIZE } from '../data/mnist';
import { openSession } from '../onnx/ort-session';
import { createInferencePool } from '../inference/inference-pool';
import { AppError } from '../errors';
import { HostileResult, numberPhoto, phonePhoto, photoLatency, photoOverload, photosBesideHostile } from './photos';

export interface BenchOptions {
  model: string;
  durationS: number; // seconds of each load phase
  connections: number; // concurrent HTTP connections under load
  rounds: number; // load phases with batching, each between two engine measurements
  intraOpNumThreads: number; // onnxruntime threads for the raw-engine numbers
  port: number; // first port for the servers started by the benchmark
  loadGenerator: 'auto' | 'wrk' | 'autocannon'; // auto: wrk when it is on PATH
}

export const BENCH_DEFAULTS: Readonly<BenchOptions> = Object.freeze({
  model: 'artifacts/mnist-cnn.int8.onnx', durationS: 10, connections: 64, rounds: 5, intraOpNumThreads: 2, port: 18080, loadGenerator: 'auto',
});

/** Seconds of each engine measurement between load phases. */
const ENGINE_SECONDS = 3;

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

interface EngineResult { batch: number; imagesPerSecond: number; p50Ms: number }

/** Raw onnxruntime throughput of the model at a batch size (images/s) and per-run latency (ms). */
async function engine(model: string, batch: number, threads: number, seconds: number): Promise<EngineResult> {
  const session = await openSession(model, { intraOpNumThreads: threads });
  const x = new Float32Array(batch * PIXELS).fill(0.1);
  for (let i = 0; i < 5; i++) await session.run(x, batch);
  const times: number[] = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const t0 = performance.now();
    await session.run(x, batch);
    times.push(performance.now() - t0);
  }
  await session.close();
  const total = times.reduce((a, b) => a + b, 0);
  times.sort((a, b) => a - b);
  return { batch, imagesPerSecond: (times.length * batch) / (total / 1000), p50Ms: pct(times, 50) };
}

/**
 * The same, with `sessions` one-thread sessions running side by side in worker threads (how the server
 * runs under load). Whichever of this and one many-thread session is faster is the engine's number.
 */
async function engineParallel(model: string, batch: number, sessions: number, seconds: number): Promise<EngineResult> {
  const pool = createInferencePool(sessions, { modelPath: model, intraOpNumThreads: 1, soloIntraOpNumThreads: 0, warmupBatch: batch, nice: 0 },
    () => new AppError('SERVER_DRAINING', 'the benchmark closed its engine pool'));
  try {
    await pool.broadcast('init', {});
    const end = performance.now() + seconds * 1000;
    const t0 = performance.now();
    const counts = await Promise.all(Array.from({ length: sessions }, async () => {
      let runs = 0;
      while (performance.now() < end) {
        const images = new Float32Array(batch * PIXELS).fill(0.1);
        await pool.run('run', { images, n: batch, solo: false }, { transfer: [images.buffer] });
        runs++;
      }
      return runs;
    }));
    const elapsed = (performance.now() - t0) / 1000;
    const runs = counts.reduce((a, b) => a + b, 0);
    return { batch, imagesPerSecond: (runs * batch) / elapsed, p50Ms: (elapsed * 1000 * sessions) / runs };
  } finally {
    await pool.close();
  }
}

/** Batch-32 engine throughput: the better of one session on all threads and one-thread sessions side by side. */
export async function engine32(model: string, threads: number, seconds: number): Promise<EngineResult & { oneSession: number; sideBySide: number }> {
  const one = await engine(model, 32, threads, seconds);
  const side = await engineParallel(model, 32, threads, seconds);
  const best = one.imagesPerSecond >= side.imagesPerSecond ? one : side;
  return { ...best, oneSession: one.imagesPerSecond, sideBySide: side.imagesPerSecond };
}

async function startServerProcess(model: string, port: number, extra: string[]): Promise<ChildProcess> {
  const cli = join(__dirname, '..', 'cli', 'index.js');
  const child = spawn(process.execPath, [cli, 'serve', '--model', model, '--port', String(port), '--host', '127.0.0.1', '--log-level', 'warn', ...extra], { stdio: ['ignore', 'inherit', 'inherit'] });
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200) return child;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`server on port ${port} did not become ready`);
}

async function stopServerProcess(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number; // connection errors and timeouts
  non2xx: number;
}

/**
 * wrk's Lua hook: POSTs the file named by BENCH_BODY and prints one JSON line of results at the end
 * (wrk's own text rounds latencies; this keeps microseconds).
 */
const WRK_SCRIPT = `
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("BENCH_TYPE")
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH_JSON {"requests":%d,"durationUs":%d,"errors":%d,"non2xx":%d,"p50Us":%d,"p99Us":%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
`;

/** Reads the line WRK_SCRIPT prints. */
export function parseWrkOutput(stdout: string): LoadResult {
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_JSON '));
  if (!line) throw new Error(`wrk printed no result line:\n${stdout.slice(0, 500)}`);
  const r = JSON.parse(line.slice('BENCH_JSON '.length)) as { requests: number; durationUs: number; errors: number; non2xx: number; p50Us: number; p99Us: number };
  return { requestsPerSecond: r.requests / (r.durationUs / 1e6), p50Ms: r.p50Us / 1000, p99Ms: r.p99Us / 1000, errors: r.errors, non2xx: r.non2xx };
}

/** Is wrk (the C load generator) on PATH? */
function hasWrk(): Promise<boolean> {
  return new Promise((resolve) => execFile('wrk', ['--version'], (err) => resolve(!err || (err as { code?: unknown }).code !== 'ENOENT')));
}

type LoadGenerator = (url: string, connections: number, seconds: number) => Promise<LoadResult>;

function wrkGenerator(bodyFile: string, scriptFile: string): LoadGenerator {
  return (url, connections, seconds) => new Promise((resolve, reject) => {
    execFile('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', scriptFile, url],
      { env: { ...process.env, BENCH_BODY: bodyFile, BENCH_TYPE: 'image/png' }, maxBuffer: 1 << 20 },
      (err, stdout) => (err ? reject(err) : resolve(parseWrkOutput(stdout))));
  });
}

function autocannonGenerator(body: Buffer): LoadGenerator {
  return async (url, connections, seconds) => {
    const r = await autocannon({ url, method: 'POST', body, headers: { 'content-type': 'image/png' }, connections, duration: seconds });
    return { requestsPerSecond: r.requests.average, p50Ms: r.latency.p50, p99Ms: r.latency.p99, errors: r.errors + r.timeouts, non2xx: r.non2xx };
  };
}

/** GET /healthz every 20 ms over one kept-alive connection until stopped; latencies in ms. */
function probeHealth(base: string): { stop: () => Promise<number[]> } {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const times: number[] = [];
  let running = true;
  const once = () => new Promise<void>((resolve) => {
    const t0 = performance.now();
    const req = request(`${base}/healthz`, { agent }, (res) => {
      res.resume();
      res.on('end', () => { times.push(performance.now() - t0); resolve(); });
    });
    req.on('error', () => resolve());
    req.end();
  });
  const loop = (async () => {
    await new Promise((r) => setTimeout(r, 500)); // let the load ramp up
    while (running) {
      await once();
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return { stop: async () => { running = false; await loop; agent.destroy(); return times; } };
}

interface PhaseResult extends LoadResult { healthzP99Ms: number; healthzSamples: number }

async function loadPhase(generate: LoadGenerator, base: string, connections: number, seconds: number): Promise<PhaseResult> {
  const probe = probeHealth(base);
  const result = await generate(`${base}/predict`, connections, seconds);
  const health = (await probe.stop()).sort((a, b) => a - b);
  return { ...result, healthzP99Ms: pct(health, 99), healthzSamples: health.length };
}

/** The fuzz find whose header claims 29 MP in 476 bytes: it kept libvips busy for seconds. */
const HOSTILE_FILE = 'test/fixtures/fuzz/png-rgba-1048576x28-slow-in-libvips.bin';

/** A flat 3000×3000 PNG: plausible, within the PNG pixel limit, and about the slowest such file to decode. */
async function flatPngAtLimit(): Promise<Buffer> {
  const sharp = (await import('sharp')).default;
  return sharp({ create: { width: 3000, height: 3000, channels: 3, background: { r: 245, g: 245, b: 240 } } }).png().toBuffer();
}

/**
 * The serving benchmark. The machine's speed drifts by ±20% from minute to minute (measured: the same
 * engine run gave 2,764 and 4,701 img/s a minute apart), so the load phases alternate with engine
 * measurements and each load phase is compared with the engine measured just before and after it; the
 * reported ratio is the median over rounds. Also: batch 1 latency, the server unloaded (one connection),
 * and with batching off (maxBatchSize 1) as the naive baseline. The load generator is wrk when
 * installed (a C program: less of the 2 cores goes to the client), else autocannon.
 */
export async function runBench(opts: BenchOptions, log: (line: string) => void = console.log): Promise<Record<string, unknown>> {
  const { test } = await loadMnist();
  const digit = new Jimp({ width: IMAGE_SIZE, height: IMAGE_SIZE });
  for (let i = 0; i < PIXELS; i++) { const v = test.images[i]; digit.bitmap.data.set([v, v, v, 255], i * 4); }
  const png = await digit.getBuffer('image/png');
  const dir = mkdtempSync(join(tmpdir(), 'mnist-bench-'));
  const bodyFile = join(dir, 'digit.png');
  const scriptFile = join(dir, 'post.lua');
  writeFileSync(bodyFile, png);
  writeFileSync(scriptFile, WRK_SCRIPT);
  const useWrk = opts.loadGenerator === 'wrk' || (opts.loadGenerator === 'auto' && await hasWrk());
  const generate = useWrk ? wrkGenerator(bodyFile, scriptFile) : autocannonGenerator(png);
  log(`load generator: ${useWrk ? 'wrk' : 'autocannon'}`);

  const engineSeconds = Math.min(ENGINE_SECONDS, opts.durationS);
  const engine1 = await engine(opts.model, 1, opts.intraOpNumThreads, engineSeconds);
  log(`engine batch 1: ${engine1.imagesPerSecond.toFixed(0)} img/s, p50 ${engine1.p50Ms.toFixed(2)} ms`);
  const logEngine = (e: Awaited<ReturnType<typeof engine32>>) =>
    log(`engine batch 32: ${e.imagesPerSecond.toFixed(0)} img/s (one ${opts.intraOpNumThreads}-thread session ${e.oneSession.toFixed(0)}, ` +
      `${opts.intraOpNumThreads} one-thread sessions side by side ${e.sideBySide.toFixed(0)})`);
  const engines = [await engine32(opts.model, opts.intraOpNumThreads, engineSeconds)];
  logEngine(engines[0]);

  let port = opts.port;
  const rounds: Array<PhaseResult & { engineImagesPerSecond: number; ratio: number; ratioToOneSession: number }> = [];
  let unloaded: LoadResult;
  const photos: { latency12Mp?: Awaited<ReturnType<typeof photoLatency>>; latency1000Px?: Awaited<ReturnType<typeof photoLatency>>; latency1000PxNumber?: Awaited<ReturnType<typeof photoLatency>>; overload?: Record<string, unknown>;
    besideHostile?: HostileResult[] } = {};
  let child = await startServerProcess(opts.model, port, []);
  let base = `http://127.0.0.1:${port++}`;
  try {
    unloaded = await generate(`${base}/predict`, 1, Math.min(5, opts.durationS));
    log(`server unloaded (1 connection): p50 ${unloaded.p50Ms.toFixed(2)} ms, p99 ${unloaded.p99Ms.toFixed(2)} ms`);
    for (let r = 0; r < opts.rounds; r++) {
      const phase = await loadPhase(generate, base, opts.connections, opts.durationS);
      engines.push(await engine32(opts.model, opts.intraOpNumThreads, engineSeconds));
      logEngine(engines[r + 1]);
      const around = (engines[r].imagesPerSecond + engines[r + 1].imagesPerSecond) / 2;
      const oneSession = (engines[r].oneSession + engines[r + 1].oneSession) / 2;
      rounds.push({ ...phase, engineImagesPerSecond: around, ratio: phase.requestsPerSecond / around, ratioToOneSession: phase.requestsPerSecond / oneSession });
      log(`round ${r + 1}: server ${phase.requestsPerSecond.toFixed(0)} req/s, p50 ${phase.p50Ms.toFixed(1)} ms, p99 ${phase.p99Ms.toFixed(1)} ms, ` +
        `errors ${phase.errors}, non-2xx ${phase.non2xx}, /healthz p99 ${phase.healthzP99Ms?.toFixed(2)} ms; engine around it ${around.toFixed(0)} img/s → ratio ${(phase.requestsPerSecond / around).toFixed(2)}`);
    }
    // Photos, after the PNG rounds so they do not disturb them: one at a time, then a flood.
    const big = await phonePhoto(test, 4000);
    const small = await phonePhoto(test, 1000);
    photos.latency12Mp = await photoLatency(base, big, 10);
    photos.latency1000Px = await photoLatency(base, small, 30);
    const number = await numberPhoto(test, 1000);
    photos.latency1000PxNumber = await photoLatency(base, number, 30);
    log(`photo latency, nothing else running: 12 MP JPEG (${(big.length / 1e6).toFixed(1)} MB) p50 ${photos.latency12Mp.p50Ms.toFixed(0)} ms; ` +
      `1,000 px (${(small.length / 1e3).toFixed(0)} kB) p50 ${photos.latency1000Px.p50Ms.toFixed(0)} ms; ` +
      `1,000 px of a five-digit number p50 ${photos.latency1000PxNumber.p50Ms.toFixed(0)} ms`);
    photos.overload = await photoOverload(base, child, big, opts.connections, opts.durationS);
    log(`${opts.connections} clients posting 12 MP JPEGs for ${opts.durationS} s: ${JSON.stringify(photos.overload)}`);
    // Hostile senders: the fuzz find that stalled libvips (refused from its header now), and the slowest
    // file the limits still let through (a flat PNG at the format's pixel limit, ~0.5 s in libvips).
    photos.besideHostile = [];
    for (const hostile of [{ name: HOSTILE_FILE, bytes: readFileSync(HOSTILE_FILE) }, { name: 'flat PNG at the pixel limit (3000×3000 RGB)', bytes: await flatPngAtLimit() }]) {
      for (const senders of [2, 4, 8]) {
        const r = await photosBesideHostile(base, small, hostile, senders, 40);
        photos.besideHostile.push(r);
        log(`1,000 px photos beside ${senders} clients posting ${hostile.name}: p50 ${r.photos.p50Ms.toFixed(0)} ms, p99 ${r.photos.p99Ms.toFixed(0)} ms, ` +
          `timeouts ${r.photos.timeouts}, photo statuses ${JSON.stringify(r.photos.statuses)}; hostile ${r.hostile.sent} sent, ${JSON.stringify(r.hostile.statuses)}`);
      }
    }
  } finally {
    await stopServerProcess(child);
  }
  child = await startServerProcess(opts.model, port, ['--max-batch-size', '1']);
  base = `http://127.0.0.1:${port++}`;
  let noBatching: PhaseResult;
  try {
    noBatching = await loadPhase(generate, base, opts.connections, opts.durationS);
    log(`server with batching off: ${noBatching.requestsPerSecond.toFixed(0)} req/s, p50 ${noBatching.p50Ms.toFixed(1)} ms, p99 ${noBatching.p99Ms.toFixed(1)} ms`);
  } finally {
    await stopServerProcess(child);
    rmSync(dir, { recursive: true, force: true });
  }

  const summary = {
    serverRequestsPerSecond: median(rounds.map((r) => r.requestsPerSecond)),
    engineBatch32ImagesPerSecond: median(engines.map((e) => e.imagesPerSecond)),
    serverOverEngineBatch32: median(rounds.map((r) => r.ratio)),
    // The same against one many-thread session only (the first benchmark's definition of the engine).
    serverOverOneSessionBatch32: median(rounds.map((r) => r.ratioToOneSession)),
    loadP50Ms: median(rounds.map((r) => r.p50Ms)),
    loadP99Ms: median(rounds.map((r) => r.p99Ms)),
    healthzP99Ms: median(rounds.map((r) => r.healthzP99Ms)),
    errors: rounds.reduce((a, r) => a + r.errors + r.non2xx, 0),
    unloadedP50Ms: unloaded.p50Ms,
    noBatchingRequestsPerSecond: noBatching.requestsPerSecond,
    photo12MpP50Ms: photos.latency12Mp?.p50Ms,
    photo1000PxP50Ms: photos.latency1000Px?.p50Ms,
    number1000PxP50Ms: photos.latency1000PxNumber?.p50Ms,
    photoOverloadOther5xx: photos.overload?.other5xx,
    photoOverloadRssPeakMb: photos.overload?.rssPeakMb,
    photoBesideHostile: photos.besideHostile?.map((r) => ({ file: r.hostile.file, senders: r.senders, p50Ms: r.photos.p50Ms, p99Ms: r.photos.p99Ms, timeouts: r.photos.timeouts })),
  };
  log(`summary (medians over ${opts.rounds} rounds): ${JSON.stringify(summary)}`);
  return {
    date: new Date().toISOString(), model: opts.model, machine: 'this machine (2 cores)', loadGenerator: useWrk ? 'wrk' : 'autocannon', options: opts,
    summary,
    engine: { batch1: engine1, batch32: engines },
    server: { unloaded, batching: rounds, noBatching },
    photos,
  };
}
