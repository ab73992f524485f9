import { Batcher } from '../../src/inference/batcher';
import { PIXELS } from '../../src/data/mnist';
import { AppError } from '../../src/errors';

const img = (v: number) => new Float32Array(PIXELS).fill(v);
const closed = () => new AppError('SERVER_DRAINING', 'closed');
const opts = { maxBatchSize: 4, maxBatchDelayMs: 20, maxQueue: 8, requestTimeoutMs: 1000, concurrency: 1, closedError: closed };

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

/** Settles `p` into a record the test can read while it moves the clock. */
function watch<T>(p: Promise<T>): { done: boolean; value?: T; error?: { code?: string } } {
  const w: { done: boolean; value?: T; error?: { code?: string } } = { done: false };
  p.then((v) => { w.done = true; w.value = v; }, (e) => { w.done = true; w.error = e; });
  return w;
}

// Time is what these tests are about: the clock is jest's, moved by hand.
beforeEach(() => { jest.useFakeTimers(); });
afterEach(() => { jest.useRealTimers(); });

describe('Batcher', () => {
  it('sends a lone request at once when nothing is in flight, not after the batch delay', async () => {
    const e = engine(1);
    const b = new Batcher(e.run, { ...opts, maxBatchDelayMs: 60_000 });
    const answer = watch(b.submit(img(0.5)));
    await jest.advanceTimersByTimeAsync(1); // the engine's own millisecond, nothing more
    expect(answer.done).toBe(true);
    expect(answer.value![0]).toBeCloseTo(0.5);
    expect(e.sizes).toEqual([1]);
  });

  it('marks a batch solo only when nothing else runs or waits (it may then take more threads)', async () => {
    const one = engine(10);
    const serial = new Batcher(one.run, { ...opts, maxBatchSize: 1 });
    const a = [0.1, 0.2, 0.3].map((v) => watch(serial.submit(img(v))));
    await jest.advanceTimersByTimeAsync(100);
    expect(a.every((w) => w.done)).toBe(true);
    // First: nothing else yet. Second: the third waits behind it. Third: the last one.
    expect(one.solo).toEqual([true, false, true]);
    const two = engine(10);
    const parallel = new Batcher(two.run, { ...opts, maxBatchSize: 1, concurrency: 2 });
    const b = [0.1, 0.2].map((v) => watch(parallel.submit(img(v))));
    await jest.advanceTimersByTimeAsync(100);
    expect(b.every((w) => w.done)).toBe(true);
    expect(two.solo).toEqual([true, false]); // the second runs beside the first
  });

  it('batches what arrives while a batch is in flight, up to maxBatchSize, answers in order', async () => {
    const e = engine(30);
    const b = new Batcher(e.run, opts);
    const answers = Array.from({ length: 9 }, (_, i) => watch(b.submit(img(i / 10))));
    await jest.advanceTimersByTimeAsync(200);
    answers.forEach((w, i) => expect(w.value![0]).toBeCloseTo(i / 10));
    // The first goes alone (nothing in flight); the other eight wait for it, then go four at a time.
    expect(e.sizes).toEqual([1, 4, 4]);
  });

  it('sends one picture\'s inputs, submitted together, as one batch when nothing is in flight; all or none are queued', async () => {
    const e = engine(30);
    const b = new Batcher(e.run, { ...opts, concurrency: 2 });
    const group = watch(b.submitAll([0.1, 0.2, 0.3].map(img)));
    await jest.advanceTimersByTimeAsync(30);
    expect(e.sizes).toEqual([3]); // not the first alone and the others after the batch delay
    expect(e.solo).toEqual([true]);
    expect(group.value!.map((row) => row[0])).toEqual([0.1, 0.2, 0.3].map((v) => Math.fround(v)));
    // Eight may wait: with one in flight and six waiting, a picture of four is refused whole.
    const one = engine(30);
    const serial = new Batcher(one.run, opts);
    watch(serial.submit(img(0)));
    const waiting = watch(serial.submitAll([0, 0, 0, 0, 0, 0].map(img)));
    const late = watch(serial.submitAll([1, 1, 1, 1].map(img)));
    await jest.advanceTimersByTimeAsync(0);
    expect(late.error?.code).toBe('QUEUE_FULL');
    await jest.advanceTimersByTimeAsync(200);
    expect(waiting.value).toHaveLength(6);
    expect(one.sizes).toEqual([1, 4, 2]);
  });

  it('waits maxBatchDelayMs for company while a batch is in flight, then sends what it has', async () => {
    const e = engine(100);
    const b = new Batcher(e.run, { ...opts, concurrency: 2 });
    watch(b.submit(img(0.1))); // in flight at once
    const second = watch(b.submit(img(0.2))); // waits for company, up to 20 ms
    await jest.advanceTimersByTimeAsync(19);
    expect(e.sizes).toEqual([1]);
    await jest.advanceTimersByTimeAsync(1);
    expect(e.sizes).toEqual([1, 1]);
    await jest.advanceTimersByTimeAsync(100);
    expect(second.value![0]).toBeCloseTo(0.2);
  });

  it('refuses with QUEUE_FULL beyond maxQueue, and REQUEST_TIMEOUT when an answer takes longer than requestTimeoutMs', async () => {
    const slow = engine(300);
    const b = new Batcher(slow.run, { ...opts, requestTimeoutMs: 100 });
    const all = Array.from({ length: 12 }, (_, i) => watch(b.submit(img(i))));
    await jest.advanceTimersByTimeAsync(0);
    // One in flight, eight queued: the last three are refused at once.
    expect(all.slice(9).map((w) => w.error?.code)).toEqual(['QUEUE_FULL', 'QUEUE_FULL', 'QUEUE_FULL']);
    await jest.advanceTimersByTimeAsync(99);
    expect(all.slice(0, 9).some((w) => w.done)).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect(all.slice(0, 9).map((w) => w.error?.code)).toEqual(new Array(9).fill('REQUEST_TIMEOUT'));
    await jest.advanceTimersByTimeAsync(1000); // the engine's late answers change nothing
    expect(all.slice(0, 9).map((w) => w.error?.code)).toEqual(new Array(9).fill('REQUEST_TIMEOUT'));
  });

  it('drains: answers what is queued, then refuses with SERVER_DRAINING', async () => {
    const e = engine(10);
    const b = new Batcher(e.run, opts);
    const pending = [1, 2, 3].map((v) => watch(b.submit(img(v))));
    const drained = watch(b.drain());
    await jest.advanceTimersByTimeAsync(100);
    expect(drained.done).toBe(true);
    expect(pending.map((w) => w.value![0])).toEqual([1, 2, 3]);
    await expect(b.submit(img(4))).rejects.toMatchObject({ code: 'SERVER_DRAINING' });
  });
});
