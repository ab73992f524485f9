import { request } from 'node:http';
import { createRng } from '../data/rng';
import { ERROR_CODES, isErrorCode } from '../errors';
import { mutate } from './mutate';
import type { FuzzSeed } from './seeds';

export interface FuzzOptions {
  url: string; // a running server, http://127.0.0.1:port
  seed: number; // the same seed gives the same inputs
  count: number; // mutated inputs to post
  concurrency: number; // posts in flight at once
  answerWithinMs: number; // an input not answered by then counts as a hang
  healthEveryMs: number; // /healthz probe period during the run
}

/** An input the server mishandled: a hang, a 5xx, an answer outside the catalogue, or a dropped connection. */
export interface FuzzFinding { seed: string; index: number; applied: string[]; problem: string; bytes: Uint8Array }

export interface FuzzReport {
  inputs: number;
  byStatus: Record<string, number>;
  byCode: Record<string, number>;
  findings: FuzzFinding[];
  health: { probes: number; failed: number; p50Ms: number; p99Ms: number; maxMs: number };
  seconds: number;
}

interface Answer { status: number; code?: string; ms: number }

/** POSTs `bytes` to `url`; rejects on a connection error or after `timeoutMs`. */
export function postImage(url: string, bytes: Uint8Array, timeoutMs: number): Promise<Answer> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': bytes.length }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let code: string | undefined;
        try { code = JSON.parse(Buffer.concat(chunks).toString('utf8'))?.error?.code; } catch { code = 'NOT_JSON'; }
        resolve({ status: res.statusCode ?? 0, code, ms: performance.now() - t0 });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(bytes);
  });
}

/** What is wrong with an answer, or undefined when it is a 200 or a catalogued 4xx with its own status. */
export function judgeAnswer(a: Answer): string | undefined {
  if (a.status === 200) return undefined;
  if (a.status >= 500) return `${a.status} ${a.code}`;
  if (!isErrorCode(a.code)) return `${a.status} with a code outside the catalogue: ${a.code}`;
  if (ERROR_CODES[a.code] !== a.status) return `${a.code} answered ${a.status}, the catalogue says ${ERROR_CODES[a.code]}`;
  return undefined;
}

const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] : 0);

/**
 * Posts `count` mutated seeds to a running server and judges every answer, while probing /healthz.
 * Deterministic for a given seed list and `seed`.
 */
export async function fuzzServer(seeds: FuzzSeed[], opts: FuzzOptions): Promise<FuzzReport> {
  const t0 = performance.now();
  const report: FuzzReport = { inputs: 0, byStatus: {}, byCode: {}, findings: [], health: { probes: 0, failed: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 }, seconds: 0 };
  const healthMs: number[] = [];
  let running = true;
  const prober = (async () => {
    while (running) {
      const h0 = performance.now();
      try {
        await new Promise<void>((resolve, reject) => {
          const req = request(`${opts.url}/healthz`, { timeout: opts.answerWithinMs }, (res) => { res.resume(); res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(String(res.statusCode))))); });
          req.on('timeout', () => req.destroy(new Error('timeout')));
          req.on('error', reject);
          req.end();
        });
        healthMs.push(performance.now() - h0);
      } catch {
        report.health.failed++;
      }
      report.health.probes++;
      await new Promise((r) => setTimeout(r, opts.healthEveryMs));
    }
  })();
  let next = 0;
  await Promise.all(Array.from({ length: opts.concurrency }, async () => {
    while (next < opts.count) {
      const index = next++;
      const rng = createRng((opts.seed * 1_000_003 + index) >>> 0);
      const seed = seeds[index % seeds.length];
      const { bytes, applied } = mutate(seed.bytes, rng);
      let problem: string | undefined;
      try {
        const a = await postImage(`${opts.url}/predict`, bytes, opts.answerWithinMs);
        report.byStatus[a.status] = (report.byStatus[a.status] ?? 0) + 1;
        if (a.code) report.byCode[a.code] = (report.byCode[a.code] ?? 0) + 1;
        problem = judgeAnswer(a);
      } catch (err) {
        problem = (err as Error).message;
      }
      report.inputs++;
      if (problem) report.findings.push({ seed: seed.name, index, applied, problem, bytes });
    }
  }));
  running = false;
  await prober;
  healthMs.sort((a, b) => a - b);
  report.health = { ...report.health, p50Ms: Number(pct(healthMs, 50).toFixed(1)), p99Ms: Number(pct(healthMs, 99).toFixed(1)), maxMs: Number((healthMs.at(-1) ?? 0).toFixed(1)) };
  report.seconds = Number(((performance.now() - t0) / 1000).toFixed(1));
  return report;
}
