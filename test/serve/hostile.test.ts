import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import sharp from 'sharp';
import type { RunningServer } from '../../src/serve/server';
import { startReadyServer } from '../helpers/server';

/**
 * Files that are slow to decode cost their senders, not everyone: a real server with two decoding
 * threads, heavy files posted by other clients (each from a loopback address of its own), and an
 * ordinary photo that must not wait behind them. Order of events, not time, is what is checked.
 */

const SLOW = 'test/fixtures/fuzz/png-rgba-1048576x28-slow-in-libvips.bin';

let server: RunningServer;
let heavy: Buffer;
const photo = readFileSync('examples/two-on-paper.jpg');

beforeAll(async () => {
  // Deadlines far above a heavy file's decode (a fraction of a second alone): this test is about who waits for whom, and
  // on a machine busy with other work the default 2 s decode deadline turned decodes into refusals.
  server = await startReadyServer({ decodeWorkers: 2, decodeTimeoutMs: 20_000, requestTimeoutMs: 60_000 });
  // Plausible and within the PNG limit, and about the slowest such file: a flat 3000×3000 PNG.
  heavy = await sharp({ create: { width: 3000, height: 3000, channels: 3, background: { r: 245, g: 245, b: 240 } } }).png().toBuffer();
});
afterAll(() => server.shutdown());

function post(body: Buffer, localAddress?: string): Promise<{ status: number; code?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}/predict`, { method: 'POST', localAddress, agent: false, headers: { 'content-type': 'application/octet-stream', 'content-length': body.length } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, code: res.statusCode === 200 ? undefined : JSON.parse(text).error?.code }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('hostile files cost their sender', () => {
  it('refuses the 476-byte file that claims 29 MP from its header, at once, however many send it', async () => {
    const slow = readFileSync(SLOW);
    const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => post(slow, `127.0.0.${2 + (i % 4)}`)));
    expect(answers.map((a) => a.code)).toEqual(answers.map(() => 'IMAGE_TOO_MANY_PIXELS'));
  });

  it('answers an ordinary photo while heavy files from four other clients wait for the one thread they may share', async () => {
    const order: string[] = [];
    const heavyAnswers = Array.from({ length: 8 }, (_, i) => post(heavy, `127.0.0.${2 + (i % 4)}`).then((a) => { order.push('heavy'); return a; }));
    await Promise.race(heavyAnswers); // the others are now decoding or waiting
    const answer = await post(photo);
    order.push('photo');
    const rest = await Promise.all(heavyAnswers);
    expect(answer.status).toBe(200);
    // Heavy files take one thread between them, one after another, and the photo the other: at most the
    // heavy file decoding when it arrived finished before it (in arrival order it would wait behind six).
    expect(order.indexOf('photo')).toBeLessThanOrEqual(2);
    expect(rest.map((a) => a.code)).toEqual(rest.map(() => 'IMAGE_NO_DIGIT')); // a flat page: decoded, nothing on it
  });
});
