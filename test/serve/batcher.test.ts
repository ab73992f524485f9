import { Batcher } from '../../src/serve/batcher';
import { PIXELS } from '../../src/data/mnist';

const img = (v: number) => new Float32Array(PIXELS).fill(v);
const opts = { maxBatchSize: 4, maxBatchDelayMs: 20, maxQueue: 8, requestTimeoutMs: 1000, concurrency: 1 };

/** A fake engine: answers each image with probabilities [v, 0, …] after `ms`, recording batch sizes. */
function engine(ms: number) {
  const sizes: number[] = [];
  const solo: boolean[] = [];
  const run = async (images: Float32Array, n: number, isSolo: boolean) => {
    sizes.push(n);
    solo.push(isSolo);
    await new Promise((r) => setTimeout(r, ms));
    const out = new Float32Array(n * 10);
    for (let i = 0; i < n; i++) out[i * 10] = images[i * PIXELS];
    return out;
  };
  return { run, sizes, solo };
}

describe('Batcher', () => {
  it('sends a lone request at once when nothing is in flight', async () => {
    const e = engine(1);
    // With a one-minute batch delay, an answer within the test's 5 s means it did not wait for company.
    const b = new Batcher(e.run, { ...opts, maxBatchDelayMs: 60_000 });
    expect((await b.submit(img(0.5)))[0]).toBeCloseTo(0.5);
    expect(e.sizes).toEqual([1]);
  }, 5_000);

  it('marks a batch solo only when nothing else runs or waits (it may then take more threads)', async () => {
    const one = engine(10);
    const serial = new Batcher(one.run, { ...opts, maxBatchSize: 1 });
    await Promise.all([0.1, 0.2, 0.3].map((v) => serial.submit(img(v))));
    // First: nothing else yet. Second: the third waits behind it. Third: the last one.
    expect(one.solo).toEqual([true, false, true]);
    const two = engine(10);
    const parallel = new Batcher(two.run, { ...opts, maxBatchSize: 1, concurrency: 2 });
    await Promise.all([0.1, 0.2].map((v) => parallel.submit(img(v))));
    expect(two.solo).toEqual([true, false]); // the second runs beside the first
  });

  it('batches what arrives while a batch is in flight, up to maxBatchSize, answers in order', async () => {
    const e = engine(30);
    const b = new Batcher(e.run, opts);
    const answers = await Promise.all(Array.from({ length: 9 }, (_, i) => b.submit(img(i / 10))));
    answers.forEach((p, i) => expect(p[0]).toBeCloseTo(i / 10));
    expect(e.sizes[0]).toBe(1);
    expect(Math.max(...e.sizes)).toBeLessThanOrEqual(4);
    expect(e.sizes.reduce((a, c) => a + c, 0)).toBe(9);
    expect(e.sizes.length).toBeLessThanOrEqual(4);
  });

  it('refuses with QUEUE_FULL beyond maxQueue and REQUEST_TIMEOUT when an answer takes too long', async () => {
    const slow = engine(300);
    const b = new Batcher(slow.run, { ...opts, requestTimeoutMs: 100 });
    const all = Array.from({ length: 12 }, (_, i) => b.submit(img(i)).then(() => 'ok', (e) => e.code));
    const codes = await Promise.all(all);
    expect(codes.filter((c) => c === 'QUEUE_FULL').length).toBeGreaterThan(0);
    expect(codes).toContain('REQUEST_TIMEOUT');
  });

  it('drains: answers what is queued, then refuses with SERVER_DRAINING', async () => {
    const e = engine(10);
    const b = new Batcher(e.run, opts);
    const pending = [b.submit(img(1)), b.submit(img(2)), b.submit(img(3))];
    await b.drain();
    expect((await Promise.all(pending)).map((p) => p[0])).toEqual([1, 2, 3]);
    await expect(b.submit(img(4))).rejects.toMatchObject({ code: 'SERVER_DRAINING' });
  });
});
