import { loadMnist, stratifiedSplit, subset, NUM_CLASSES } from '../../src/data/mnist';

describe('loadMnist and the validation split', () => {
  let mnist: Awaited<ReturnType<typeof loadMnist>>;
  beforeAll(async () => { mnist = await loadMnist({ cacheDir: '/nonexistent-cache' }); });

  it('loads 60k training and 10k test images with verified checksums', () => {
    expect(mnist.train.count).toBe(60000);
    expect(mnist.test.count).toBe(10000);
    expect(mnist.sha256.trainImages).toMatch(/^ba891046/);
    expect(Array.from(mnist.train.labels.subarray(0, 4))).toEqual([5, 0, 4, 1]);
  });

  it('holds out exactly valCount images, stratified by class, disjoint from training, seeded', () => {
    const split = stratifiedSplit(mnist.train.labels, 5000, 7);
    expect(split.val.length).toBe(5000);
    expect(split.train.length).toBe(55000);
    expect(new Set([...split.train, ...split.val]).size).toBe(60000);
    const counts = new Array(NUM_CLASSES).fill(0);
    split.val.forEach((i) => counts[mnist.train.labels[i]]++);
    const overall = new Array(NUM_CLASSES).fill(0);
    mnist.train.labels.forEach((l) => overall[l]++);
    counts.forEach((c, k) => expect(Math.abs(c - (overall[k] * 5000) / 60000)).toBeLessThan(1));
    expect(stratifiedSplit(mnist.train.labels, 5000, 7).val).toEqual(split.val);
    expect(stratifiedSplit(mnist.train.labels, 5000, 8).val).not.toEqual(split.val);
  });

  it('copies subsets', () => {
    const s = subset(mnist.test, [3, 1]);
    expect(s.count).toBe(2);
    expect(Array.from(s.labels)).toEqual([mnist.test.labels[3], mnist.test.labels[1]]);
    expect(s.images.subarray(784)).toEqual(mnist.test.images.subarray(784, 1568));
  });
});
