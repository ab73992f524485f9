import { spawn, ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Jimp } from 'jimp';
import { loadMnist, PIXELS, IMAGE_SIZE } from '../data/mnist';
import { openSession } from '../onnx/ort-session';

export interface BenchOptions {
  model: string;
  durationS: number; // seconds of each load phase
  connections: number; // concurrent HTTP connections under load
  intraOpNumThreads: number; // onnxruntime threads for the raw-engine numbers
  port: number; // first port for the servers started by the benchmark
}

export const BENCH_DEFAULTS: Readonly<BenchOptions> = Object.freeze({
  model: 'artifacts/mnist-cnn.int8.onnx', durationS: 10, connections: 64, intraOpNumThreads: 2, port: 18080,
});

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** Raw onnxruntime throughput of the model at a batch size (images/s) and per-run latency (ms). */
async function engine(model: string, batch: number, threads: number, seconds: number): Promise<{ batch: number; imagesPerSecond: number; p50Ms: number }> {
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

/** Sequential requests at no load: end-to-end latency percentiles in ms. */
async function unloaded(url: string, png: Buffer, n: number): Promise<{ p50Ms: number; p99Ms: number }> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch(url, { method: 'POST', body: new Uint8Array(png), headers: { 'content-type': 'image/png' } });
    await res.arrayBuffer();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { p50Ms: pct(times, 50), p99Ms: pct(times, 99) };
}

interface LoadResult { requestsPerSecond: number; p50Ms: number; p99Ms: number; errors: number; non2xx: number; healthzP99Ms: number; healthzSamples: number }

/** `connections` clients posting the PNG for `seconds`, while /healthz is probed every 20 ms. */
async function load(base: string, png: Buffer, connections: number, seconds: number): Promise<LoadResult> {
  const health: number[] = [];
  let probing = true;
  const probe = (async () => {
    await new Promise((r) => setTimeout(r, 500));
    while (probing) {
      const t0 = performance.now();
      try { await (await fetch(`${base}/healthz`)).arrayBuffer(); health.push(performance.now() - t0); } catch { /* counted as missing */ }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const result = await autocannon({
    url: `${base}/predict`, method: 'POST', body: png, headers: { 'content-type': 'image/png' }, connections, duration: seconds,
  });
  probing = false;
  await probe;
  health.sort((a, b) => a - b);
  return {
    requestsPerSecond: result.requests.average, p50Ms: result.latency.p50, p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts, non2xx: result.non2xx, healthzP99Ms: pct(health, 99), healthzSamples: health.length,
  };
}

/**
 * The serving benchmark: raw engine throughput at batch 1 and 32, then the server (a separate process)
 * unloaded and under load, with dynamic batching and with batching off (maxBatchSize 1).
 */
export async function runBench(opts: BenchOptions, log: (line: string) => void = console.log): Promise<Record<string, unknown>> {
  const { test } = await loadMnist();
  const digit = new Jimp({ width: IMAGE_SIZE, height: IMAGE_SIZE });
  for (let i = 0; i < PIXELS; i++) { const v = test.images[i]; digit.bitmap.data.set([v, v, v, 255], i * 4); }
  const png = await digit.getBuffer('image/png');

  const engine1 = await engine(opts.model, 1, opts.intraOpNumThreads, Math.min(5, opts.durationS));
  log(`engine batch 1: ${engine1.imagesPerSecond.toFixed(0)} img/s, p50 ${engine1.p50Ms.toFixed(2)} ms`);
  const engine32 = await engine(opts.model, 32, opts.intraOpNumThreads, Math.min(5, opts.durationS));
  log(`engine batch 32: ${engine32.imagesPerSecond.toFixed(0)} img/s, p50 ${engine32.p50Ms.toFixed(2)} ms per batch`);

  const runs: Record<string, unknown> = {};
  const variants: Array<[string, string[]]> = [['batching', []], ['noBatching', ['--max-batch-size', '1']]];
  let port = opts.port;
  for (const [name, extra] of variants) {
    const child = await startServerProcess(opts.model, port, extra);
    const base = `http://127.0.0.1:${port++}`;
    try {
      const idle = name === 'batching' ? await unloaded(`${base}/predict`, png, 300) : undefined;
      if (idle) log(`server unloaded: p50 ${idle.p50Ms.toFixed(2)} ms, p99 ${idle.p99Ms.toFixed(2)} ms`);
      const loaded = await load(base, png, opts.connections, opts.durationS);
      log(`server ${name}, ${opts.connections} connections: ${loaded.requestsPerSecond.toFixed(0)} req/s, p50 ${loaded.p50Ms} ms, p99 ${loaded.p99Ms} ms, ` +
        `errors ${loaded.errors}, non-2xx ${loaded.non2xx}, /healthz p99 ${loaded.healthzP99Ms?.toFixed(2)} ms`);
      runs[name] = { ...(idle ? { unloaded: idle } : {}), load: loaded };
    } finally {
      await stopServerProcess(child);
    }
  }
  const batching = (runs.batching as { load: LoadResult }).load;
  return {
    date: new Date().toISOString(), model: opts.model, machine: 'this machine (2 cores)', options: opts,
    engine: { batch1: engine1, batch32: engine32 },
    server: runs,
    ratios: { serverOverEngineBatch32: batching.requestsPerSecond / engine32.imagesPerSecond },
  };
}
