import { readFileSync } from 'node:fs';
import pino from 'pino';
import request from 'supertest';
import { buildApp } from '../../src/serve/app';
import { resolveServeConfig } from '../../src/serve/config';
import { createPredictor, Predictor } from '../../src/predictor';
import { createMetrics } from '../../src/serve/prometheus';
import { createServerState, ServerState } from '../../src/serve/server-state';
import { TEST_MODEL } from '../helpers/model';

/**
 * buildApp on its own, in-process through supertest (no listening server of ours), with the real model
 * behind it: the routes, their errors, readiness and draining.
 */

const digit = readFileSync('examples/digit.png');
let predictor: Predictor;
let state: ServerState;
let released = false; // readiness waits for the test to release it, so 'loading' can be seen
let app: ReturnType<typeof buildApp>;

beforeAll(() => {
  const config = resolveServeConfig({ workers: 1, maxFiles: 2, maxBodyBytes: 200_000, logLevel: 'silent' });
  predictor = createPredictor(TEST_MODEL, config);
  state = createServerState(() => released && predictor.isReady());
  app = buildApp({
    predictor, config, state, logger: pino({ level: 'silent' }), metrics: createMetrics(() => predictor.queueDepth),
    modelInfo: { name: 'mnist-cnn', modelVersion: '0.1.0' },
  });
});
afterAll(() => predictor.close());

describe('buildApp', () => {
  it('is live at once and ready once the model has loaded', async () => {
    await request(app).get('/healthz').expect(200, { status: 'ok' });
    await request(app).get('/readyz').expect(503, { status: 'loading' });
    await request(app).get('/v2/health/ready').expect(400, { ready: false });
    await predictor.ready;
    released = true;
    await request(app).get('/readyz').expect(200, { status: 'ready' });
    await request(app).get('/v2/health/ready').expect(200, { ready: true });
  });

  it('answers POST /predict with raw bytes and with multipart, the same digit', async () => {
    const raw = await request(app).post('/predict').set('Content-Type', 'image/png').send(digit).expect(200);
    expect(raw.body.digit).toBe(7);
    const multipart = await request(app).post('/predict').attach('image', digit, 'digit.png').expect(200);
    expect(multipart.body).toEqual(raw.body);
    expect(raw.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('names each multipart misuse with its own code', async () => {
    const many = await request(app).post('/predict').attach('image', digit, 'a.png').attach('image', digit, 'b.png').attach('image', digit, 'c.png');
    expect([many.status, many.body.error.code]).toEqual([400, 'REQUEST_TOO_MANY_FILES']);
    const field = await request(app).post('/predict').attach('picture', digit, 'a.png');
    expect([field.status, field.body.error.code]).toEqual([400, 'REQUEST_NO_IMAGE_FIELD']);
    const broken = await request(app).post('/predict').set('Content-Type', 'multipart/form-data; boundary=xyz').send('--xyz\r\nContent-Disposition: form-da');
    expect([broken.status, broken.body.error.code]).toEqual([400, 'REQUEST_MALFORMED']);
    const big = await request(app).post('/predict').set('Content-Type', 'image/png').send(Buffer.alloc(200_001));
    expect([big.status, big.body.error.code]).toEqual([413, 'IMAGE_TOO_LARGE']);
  });

  it('serves the model card, Prometheus metrics and a JSON 404', async () => {
    await request(app).get('/v1/model').expect(200, { name: 'mnist-cnn', modelVersion: '0.1.0' });
    const metrics = await request(app).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/^mnist_images_total \d+$/m);
    const missing = await request(app).get('/nope').expect(404);
    expect(missing.body.error.code).toBe('NOT_FOUND');
    const v2missing = await request(app).get('/v2/models/mnist/versions/9').expect(404);
    expect(v2missing.body.error).toMatch(/^NOT_FOUND: model 'mnist' has no version '9'/);
  });

  it('while draining: not ready, and every answer closes its connection', async () => {
    state.startDraining();
    const res = await request(app).get('/readyz').expect(503, { status: 'draining' });
    expect(res.headers.connection).toBe('close');
    await request(app).get('/v2/health/ready').expect(400, { ready: false });
  });
});
