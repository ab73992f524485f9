import { createMetrics } from '../../src/serve/prometheus';

describe('createMetrics', () => {
  it('counts images from observeImages and reads the queue depth on a scrape', async () => {
    const m = createMetrics(() => 3);
    m.observeImages(40);
    m.observeImages(60);
    const text = await m.registry.metrics();
    expect(text).toMatch(/^mnist_images_total 100$/m);
    expect(text).toMatch(/^mnist_queue_depth 3$/m);
    expect(text).not.toMatch(/mnist_images_per_second/);
  });
});
