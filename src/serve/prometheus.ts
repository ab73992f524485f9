import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The server's Prometheus metrics, in their own registry (one per app, so tests do not collide). */
export interface Metrics {
  registry: Registry;
  requests: Counter<'route' | 'status'>;
  latency: Histogram<'route'>;
  queueWait: Histogram;
  batchSize: Histogram;
  images: Counter;
  queueDepth: Gauge;
  observeImages(n: number): void;
}

/**
 * The server's metrics registry. Images per second is a query, not a gauge:
 * `rate(mnist_images_total[1m])` in Prometheus.
 */
export function createMetrics(queueDepth: () => number): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
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
    queueDepth: new Gauge({ name: 'mnist_queue_depth', help: 'images waiting for a batch', registers: [registry], collect() { this.set(queueDepth()); } }),
    observeImages(n: number) {
      images.inc(n);
    },
  };
}
