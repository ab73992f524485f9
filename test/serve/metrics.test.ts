import { RateWindow, createMetrics } from '../../src/serve/metrics';

describe('RateWindow', () => {
  it('averages over the last 10 seconds and forgets older ones', () => {
    let t = 1_000_000;
    const w = new RateWindow(() => t);
    w.add(30);
    t += 500;
    w.add(20);
    expect(w.rate()).toBe(5); // 50 images in the window / 10 s
    t += 4_000;
    w.add(50);
    expect(w.rate()).toBe(10);
    t += 6_000; // the first second has left the window, the later one has not
    expect(w.rate()).toBe(5);
    t += 60_000; // a long silence clears every slot
    expect(w.rate()).toBe(0);
    w.add(7);
    expect(w.rate()).toBeCloseTo(0.7);
  });

  it('stays exact over a long run of single images', () => {
    let t = 0;
    const w = new RateWindow(() => t);
    for (let i = 0; i < 100_000; i++) { t = i; w.add(1); } // one image a millisecond for 100 s
    expect(w.rate()).toBe(1000); // at t = 99.999 s: seconds 90-99, 1,000 images each
  });
});

describe('createMetrics', () => {
  it('reports images per second from observeImages on a scrape', async () => {
    let t = 5_000;
    const m = createMetrics(() => 3, () => t);
    m.observeImages(40);
    t += 1_000;
    m.observeImages(60);
    const text = await m.registry.metrics();
    expect(text).toMatch(/^mnist_images_per_second 10$/m);
    expect(text).toMatch(/^mnist_images_total 100$/m);
    expect(text).toMatch(/^mnist_queue_depth 3$/m);
  });
});
