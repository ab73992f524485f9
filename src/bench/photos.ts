import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import sharp from 'sharp';
import type { Dataset } from '../data/mnist';
import { createRng } from '../data/rng';
import { renderGlyphUpload, renderUpload, uploadSeed } from '../uploads/conditions';
import { numberClearances, writeNumber } from '../uploads/numbers';
import { encodeUpload } from '../uploads/evaluate-uploads';

/**
 * A phone photo of `width` × 3/4 width: a rendered low-light page scaled up, with fresh sensor noise at
 * full resolution (noise is what makes a real 12 MP JPEG slow to decode: a smooth one decodes ~4× faster).
 */
export async function phonePhoto(test: Dataset, width: number, seed = 1): Promise<Buffer> {
  const rng = createRng(uploadSeed(seed, 'bench-photo', width));
  return photoOf(await encodeUpload(renderUpload('uneven-light', test.images, rng.int(test.count), rng)), width);
}

/** The same kind of photo of a handwritten number of five digits with gaps between them. */
export async function numberPhoto(test: Dataset, width: number, seed = 1): Promise<Buffer> {
  const rng = createRng(uploadSeed(seed, 'bench-number', width));
  const indices = Array.from({ length: 5 }, () => rng.int(test.count));
  const { glyph } = writeNumber(test.images, test.labels, indices, numberClearances('gaps', 5, rng), rng);
  return photoOf(await encodeUpload(renderGlyphUpload('uneven-light', glyph, rng)), width);
}

/** A rendered page scaled to `width` × 3/4 width, with sensor noise at full resolution, as a JPEG. */
async function photoOf(page: Uint8Array, width: number): Promise<Buffer> {
  const height = Math.round((width * 3) / 4);
  const { data } = await sharp(page).resize(width, height, { fit: 'fill' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let x = 0x9e3779b9;
  for (let i = 0; i < data.length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    const v = data[i] + (((x >>> 0) & 31) - 16) * 0.6; // ±10 levels, about σ 6
    data[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return sharp(data, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

function postOnce(url: string, body: Buffer, localAddress?: string): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', localAddress, headers: { 'content-type': 'application/octet-stream', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** One photo at a time, nothing else running: the latency a user sees for their picture. */
export async function photoLatency(base: string, photo: Buffer, n: number): Promise<{ bytes: number; n: number; p50Ms: number; p90Ms: number; statuses: Record<number, number> }> {
  const times: number[] = [];
  const statuses: Record<number, number> = {};
  for (let i = 0; i < n + 2; i++) {
    const r = await postOnce(`${base}/predict`, photo);
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    if (i >= 2) times.push(r.ms); // the first two warm up the decoding worker's JIT and libvips
  }
  times.sort((a, b) => a - b);
  return { bytes: photo.length, n, p50Ms: pct(times, 50), p90Ms: pct(times, 90), statuses };
}

/** A process's resident memory (Linux), MB; NaN once it has exited. */
export function rssMb(pid: number): number {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return NaN;
  }
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * `clients` clients posting `photo` back to back for `seconds`: how many are answered, how many refused
 * (503 QUEUE_FULL is the intended answer to the excess), any other 5xx, and the server's peak memory.
 */
export async function photoOverload(base: string, server: ChildProcess, photo: Buffer, clients: number, seconds: number): Promise<Record<string, unknown>> {
  const statuses: Record<number, number> = {};
  let failures = 0;
  let peak = rssMb(server.pid!);
  const before = peak;
  const sampler = setInterval(() => { const mb = rssMb(server.pid!); if (Number.isFinite(mb)) peak = Math.max(peak, mb); }, 100);
  const end = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (performance.now() < end) {
      try {
        const r = await postOnce(`${base}/predict`, photo);
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      } catch {
        failures++;
      }
    }
  }));
  clearInterval(sampler);
  const other5xx = Object.entries(statuses).filter(([s]) => Number(s) >= 500 && s !== '503').reduce((a, [, n]) => a + n, 0);
  return { clients, seconds, photoBytes: photo.length, statuses, connectionFailures: failures, other5xx, rssBeforeMb: Math.round(before), rssPeakMb: Math.round(peak) };
}

export interface HostileResult {
  senders: number; // clients posting the hostile file back to back, each from an address of its own
  hostile: { file: string; bytes: number; sent: number; statuses: Record<number, number> };
  photos: { n: number; p50Ms: number; p99Ms: number; maxMs: number; statuses: Record<number, number>; timeouts: number };
}

/**
 * Ordinary 1,000 px photos posted one at a time while `senders` clients post `hostile` back to back:
 * the latency everyone else sees while a few send files that are slow to decode. Each hostile client
 * connects from its own loopback address (127.0.0.2, .3, ...), as distinct clients would.
 */
export async function photosBesideHostile(base: string, photo: Buffer, hostile: { name: string; bytes: Buffer }, senders: number, n: number): Promise<HostileResult> {
  const statuses: Record<number, number> = {};
  let sent = 0;
  let running = true;
  const attackers = Array.from({ length: senders }, async (_, i) => {
    while (running) {
      try {
        const r = await postOnce(`${base}/predict`, hostile.bytes, `127.0.0.${2 + i}`);
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      } catch {
        statuses[0] = (statuses[0] ?? 0) + 1;
      }
      sent++;
    }
  });
  await new Promise((r) => setTimeout(r, 500)); // the hostile files are in the decoders before the first photo
  const times: number[] = [];
  const photoStatuses: Record<number, number> = {};
  let timeouts = 0;
  for (let i = 0; i < n; i++) {
    const r = await postOnce(`${base}/predict`, photo).catch(() => ({ status: 0, ms: NaN }));
    photoStatuses[r.status] = (photoStatuses[r.status] ?? 0) + 1;
    if (r.status === 504 || r.status === 0) timeouts++;
    if (Number.isFinite(r.ms)) times.push(r.ms);
  }
  running = false;
  await Promise.all(attackers);
  times.sort((a, b) => a - b);
  return {
    senders, hostile: { file: hostile.name, bytes: hostile.bytes.length, sent, statuses },
    photos: { n, p50Ms: pct(times, 50), p99Ms: pct(times, 99), maxMs: times[times.length - 1], statuses: photoStatuses, timeouts },
  };
}
