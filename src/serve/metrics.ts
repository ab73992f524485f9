import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The server's Prometheus metrics, in their own registry (one per app, so tests do not collide). */
export interface Metrics {
  registry: Registry;
  requests: Counter<'route' | 'status'>;
  latency: Histogram<'route'>;
  queueWait: Histogram;
  batchSize: Histogram;
  images: Counter;
  imagesPerSecond: Gauge;
  queueDepth: Gauge;
  observeImages(n: number): void;
}

/** Seconds the images/s gauge averages over. */
const RATE_WINDOW_S = 10;

/**
 * Counts per second in a ring of RATE_WINDOW_S slots: constant memory and no allocation per image. (It
 * was a list of [time, n] pairs trimmed only when /metrics was scraped: without scrapes it grew by one
 * entry per image, ~2,000 a second under load.)
 */
export class RateWindow {
  private readonly slots = new Float64Array(RATE_WINDOW_S);
  private second = 0; // the second the newest slot counts

  constructor(private readonly now: () => number = Date.now) {}

  private advance(second: number): void {
    const stale = Math.min(RATE_WINDOW_S, second - this.second);
    for (let k = 1; k <= stale; k++) this.slots[(this.second + k) % RATE_WINDOW_S] = 0;
    if (stale > 0) this.second = second;
  }

  add(n: number): void {
    const second = Math.floor(this.now() / 1000);
    this.advance(second);
    this.slots[second % RATE_WINDOW_S] += n;
  }

  /** Events per second over the last RATE_WINDOW_S seconds (the current one included). */
  rate(): number {
    this.advance(Math.floor(this.now() / 1000));
    return this.slots.reduce((a, b) => a + b, 0) / RATE_WINDOW_S;
  }
}

export function createMetrics(queueDepth: () => number, now: () => number = Date.now): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  const recent = new RateWindow(now);
  const images = new Counter({ name: 'mnist_images_total', help: 'images answered', registers: [registry] });
  return {
    registry,
    requests: new Counter({ name: 'http_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'], registers: [registry] }),
    latency: new Histogram({
      name: 'http_request_duration_seconds', help: 'request latency, end to end in the server', labelNames: ['route'],
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry],
    }),
    queueWait: new Histogram({
      name: 'mnist_queue_wait_seconds', help: 'time an image waited in the batching queue',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1], registers: [registry],
    }),
    batchSize: new Histogram({ name: 'mnist_batch_size', help: 'images per onnxruntime run', buckets: [1, 2, 4, 8, 16, 32, 64, 128], registers: [registry] }),
    images,
    imagesPerSecond: new Gauge({
      name: 'mnist_images_per_second', help: `images answered per second over the last ${RATE_WINDOW_S} s`, registers: [registry],
      collect() { this.set(recent.rate()); },
    }),
    queueDepth: new Gauge({ name: 'mnist_queue_depth', help: 'images waiting for a batch', registers: [registry], collect() { this.set(queueDepth()); } }),
    observeImages(n: number) {
      images.inc(n);
      recent.add(n);
    },
  };
}
