import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import pino from 'pino';
import request from 'supertest';
import { buildApp } from '../../src/serve/app';
import { resolveServeConfig } from '../../src/serve/config';
import { createPredictor, Predictor } from '../../src/predictor';
import { createMetrics } from '../../src/serve/prometheus';
import { createServerState, ServerState } from '../../src/serve/server-state';
import { describeModel } from '../../src/serve/server';
import { openApiChecker } from '../helpers/openapi';
import { writePng } from '../helpers/png';
import { TEST_MODEL } from '../helpers/model';

/**
 * The real answers of every route, successes and each error the route can give, checked against
 * docs/openapi.yaml (what users generate clients from), with the real model behind buildApp.
 */

const digit = readFileSync('examples/digit.png');
const photo = readFileSync('examples/two-on-paper.jpg');
const blank = writePng({ width: 200, height: 200, depth: 8, colorType: 0, rows: Array.from({ length: 200 }, () => new Uint8Array(200).fill(250)) });

/** A PNG whose header claims `w` × `h` pixels and that has nothing else: refused before any decoding. */
function headerOnlyPng(w: number, h: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 0, 0, 0, 0], 8);
  const body = Buffer.concat([Buffer.from('IHDR', 'latin1'), ihdr]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0, 0);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]), body, crc]);
}

const checker = openApiChecker();
/** The model version the v2 routes serve: the card's. */
const version = JSON.parse(readFileSync('artifacts/model-card.json', 'utf8')).modelVersion as string;
let predictor: Predictor;
let state: ServerState;
let app: ReturnType<typeof buildApp>;

beforeAll(async () => {
  const config = resolveServeConfig({ workers: 1, maxFiles: 3, maxBodyBytes: 200_000, logLevel: 'silent' });
  predictor = createPredictor(TEST_MODEL, config);
  state = createServerState(() => predictor.isReady());
  app = buildApp({
    predictor, config, state, logger: pino({ level: 'silent' }), metrics: createMetrics(() => predictor.queueDepth),
    modelInfo: describeModel(config.card, TEST_MODEL),
  });
  await predictor.ready;
});
afterAll(() => predictor.close());

/** Sends the request, checks its answer against the document, and returns it. */
async function answered(req: request.Test, method: string, path: string) {
  const res = await req;
  const problems = checker.check({ method, path, status: res.status, contentType: res.headers['content-type'] ?? '', body: res.body });
  expect(problems).toEqual([]);
  return res;
}
const get = (path: string) => answered(request(app).get(path), 'GET', path);
const predictRaw = (bytes: Buffer, path = '/predict') => answered(request(app).post(path).set('Content-Type', 'application/octet-stream').send(bytes), 'POST', path);
const infer = (body: unknown, path = '/v2/models/mnist/infer') => answered(request(app).post(path).send(body as object), 'POST', path);
const errorOf = (res: request.Response) => [res.status, res.body.error.code];
const v2ErrorOf = (res: request.Response) => [res.status, String(res.body.error).split(':')[0]];

describe('the HTTP API against docs/openapi.yaml', () => {
  it('the document is OpenAPI 3.1 with an id on every operation, and the server serves it', async () => {
    expect(checker.spec.openapi).toBe('3.1.0');
    const ids = Object.values(checker.spec.paths as Record<string, Record<string, { operationId?: string }>>)
      .flatMap((item) => Object.entries(item).filter(([m]) => m !== 'parameters').map(([, op]) => op.operationId));
    expect(ids.every((id) => typeof id === 'string')).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    const served = await get('/openapi.json');
    expect(served.body.paths).toEqual(JSON.parse(JSON.stringify(checker.spec.paths)));
    expect(served.body.info.version).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
  });

  it('the checker itself refuses an answer that does not fit', () => {
    expect(checker.check({ method: 'POST', path: '/predict', status: 200, contentType: 'application/json', body: { digit: 12 } })).not.toEqual([]);
    expect(checker.check({ method: 'POST', path: '/predict', status: 418, contentType: 'application/json', body: {} })).not.toEqual([]);
    expect(checker.check({ method: 'GET', path: '/nowhere', status: 200, contentType: 'application/json', body: {} })).not.toEqual([]);
    expect(checker.check({ method: 'GET', path: '/v2/models/mnist/infer', status: 200, contentType: 'application/json', body: {} })).not.toEqual([]);
  });

  it('health, readiness, metrics, the model card and the page', async () => {
    await get('/healthz');
    expect((await get('/readyz')).status).toBe(200);
    expect((await get('/metrics')).text).toMatch(/^mnist_images_total \d+$/m);
    await get('/v1/model');
    expect((await get('/')).text).toMatch(/<html/i);
  });

  it('POST /predict: raw, debug, multipart with one file and with several (one of them failing)', async () => {
    expect((await predictRaw(digit)).body.digit).toBe(7);
    expect((await predictRaw(digit, '/predict?debug=1')).body.input28).toHaveLength(784);
    const number = await predictRaw(readFileSync('test/fixtures/numbers/2403.jpg'), '/predict?debug=1');
    expect(number.body.number).toBe('2403');
    expect(number.body.lineCandidates.filter((c: { chosen: boolean }) => c.chosen)).toHaveLength(4);
    const one = await answered(request(app).post('/predict').attach('image', photo, 'two.jpg'), 'POST', '/predict');
    expect(one.body.digit).toBe(2);
    const several = await answered(request(app).post('/predict').attach('image', digit, 'a.png').attach('image', blank, 'b.png'), 'POST', '/predict');
    expect(several.body.predictions.map((p: { digit?: number; error?: { code: string } }) => p.digit ?? p.error?.code)).toEqual([7, 'IMAGE_NO_DIGIT']);
  });

  it('POST /predict: every client error the route gives', async () => {
    expect(errorOf(await predictRaw(Buffer.alloc(0)))).toEqual([400, 'REQUEST_EMPTY']);
    expect(errorOf(await answered(request(app).post('/predict').attach('picture', digit, 'a.png'), 'POST', '/predict'))).toEqual([400, 'REQUEST_NO_IMAGE_FIELD']);
    const four = request(app).post('/predict');
    for (const name of ['a', 'b', 'c', 'd']) four.attach('image', digit, `${name}.png`);
    expect(errorOf(await answered(four, 'POST', '/predict'))).toEqual([400, 'REQUEST_TOO_MANY_FILES']);
    const broken = request(app).post('/predict').set('Content-Type', 'multipart/form-data; boundary=xyz').send('--xyz\r\nContent-Disposition: form-da');
    expect(errorOf(await answered(broken, 'POST', '/predict'))).toEqual([400, 'REQUEST_MALFORMED']);
    expect(errorOf(await predictRaw(Buffer.alloc(200_001)))).toEqual([413, 'IMAGE_TOO_LARGE']);
    expect(errorOf(await predictRaw(Buffer.from('a text file, not a picture')))).toEqual([415, 'IMAGE_UNSUPPORTED_FORMAT']);
    expect(errorOf(await predictRaw(photo.subarray(0, photo.length >> 1)))).toEqual([422, 'IMAGE_UNDECODABLE']);
    expect(errorOf(await predictRaw(headerOnlyPng(100_000, 1_000)))).toEqual([422, 'IMAGE_TOO_MANY_PIXELS']);
    expect(errorOf(await predictRaw(blank))).toEqual([422, 'IMAGE_NO_DIGIT']);
    // A route that does not exist is in no document: its answer is still the documented error body.
    const missing = await request(app).get('/no/such/route');
    expect(errorOf(missing)).toEqual([404, 'NOT_FOUND']);
    expect(checker.checkSchema('Error', missing.body)).toEqual([]);
    expect(checker.checkSchema('Error', { error: { code: 'NOT_A_CODE', message: '' } })).not.toEqual([]);
  });

  it('the v2 routes, their answers and errors in the protocol\'s own format', async () => {
    await get('/v2');
    await get('/v2/health/live');
    await get('/v2/health/ready');
    await get('/v2/models/mnist');
    await get(`/v2/models/mnist/versions/${version}`);
    await get('/v2/models/mnist/ready');
    await get(`/v2/models/mnist/versions/${version}/ready`);
    const tensor = { inputs: [{ name: 'image', shape: [1, 1, 28, 28], datatype: 'FP32', data: new Array(784).fill(0) }] };
    expect((await infer(tensor)).body.outputs.map((o: { name: string }) => o.name)).toEqual(['probabilities', 'digit', 'number', 'number_boxes', 'number_probabilities', 'digit_score']);
    expect((await infer(tensor, `/v2/models/mnist/versions/${version}/infer`)).status).toBe(200);
    const files = { inputs: [{ name: 'image', shape: [2], datatype: 'BYTES', data: [digit.toString('base64'), blank.toString('base64')] }] };
    const mixed = await infer(files);
    expect(mixed.body.outputs.find((o: { name: string }) => o.name === 'digit').data).toEqual([7, -1]);
    expect(v2ErrorOf(await infer({ inputs: [{ name: 'pixels', shape: [1], datatype: 'FP32', data: [0] }] }))).toEqual([400, 'REQUEST_BAD_TENSOR']);
    expect(v2ErrorOf(await infer(tensor, '/v2/models/other/infer'))).toEqual([404, 'NOT_FOUND']);
    expect(v2ErrorOf(await get('/v2/models/other'))).toEqual([404, 'NOT_FOUND']);
    expect(v2ErrorOf(await get('/v2/models/mnist/versions/9/ready'))).toEqual([404, 'NOT_FOUND']);
    expect(v2ErrorOf(await get('/v2/models/mnist/versions/9'))).toEqual([404, 'NOT_FOUND']);
    expect(v2ErrorOf(await get('/v2/models/other/ready'))).toEqual([404, 'NOT_FOUND']);
    expect(v2ErrorOf(await infer(tensor, '/v2/models/mnist/versions/9/infer'))).toEqual([404, 'NOT_FOUND']);
    const huge = { inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: ['A'.repeat(300_000)] }] };
    expect(v2ErrorOf(await infer(huge))).toEqual([413, 'IMAGE_TOO_LARGE']);
  });

  it('while draining and once the workers are closed: 503 with Retry-After, both formats', async () => {
    state.startDraining();
    expect((await get('/readyz')).body.status).toBe('draining');
    expect((await get('/v2/health/ready')).status).toBe(400);
    expect((await get('/v2/models/mnist/ready')).status).toBe(400);
    await predictor.close();
    const refused = await predictRaw(digit);
    expect(errorOf(refused)).toEqual([503, 'SERVER_DRAINING']);
    expect(refused.headers['retry-after']).toBe('1');
    const tensor = { inputs: [{ name: 'image', shape: [1, 1, 28, 28], datatype: 'FP32', data: new Array(784).fill(0) }] };
    expect(v2ErrorOf(await infer(tensor))).toEqual([503, 'SERVER_DRAINING']);
  });

  it('every operation of the document was reached above', () => {
    expect(checker.unchecked()).toEqual([]);
  });
});
