import { request } from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import { loadMnist, Dataset, PIXELS } from '../../src/data/mnist';
import type { RunningServer } from '../../src/serve/server';
import { evaluateOnnxLogits } from '../../src/onnx/evaluate-onnx';
import { argmaxRows } from '../../src/metrics/classification';
import { canvasBitmap, encode, mnistBitmap } from '../helpers/images';
import { TEST_MODEL } from '../helpers/model';
import { Json, startTestServer } from '../helpers/server';

const SAMPLE = 60;

let test: Dataset;
let pngs: Buffer[];
let server: RunningServer;

beforeAll(async () => {
  test = (await loadMnist()).test;
  pngs = await Promise.all(Array.from({ length: SAMPLE }, (_, i) => encode(mnistBitmap(test.images, i), 'image/png')));
  server = await startTestServer({ maxBodyBytes: 300_000 });
  await server.predictor.ready;
});
afterAll(() => server.shutdown());

const json = async (r: Response): Promise<Json> => r.json();

const post = (body: Buffer | Uint8Array | FormData, type = 'image/png', path = '/predict', headers: Record<string, string> = {}) =>
  fetch(`${server.url}${path}`, { method: 'POST', body: body as RequestInit['body'], headers: { 'content-type': type, ...headers } });

async function expectError(res: Response, status: number, code: string): Promise<void> {
  expect(res.status).toBe(status);
  const body = await json(res);
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
  expect(JSON.stringify(body)).not.toMatch(/at .*\.ts:\d+/); // no stack traces
}

describe('HTTP server on 127.0.0.1 with the real model', () => {
  it('is healthy and ready after the warm-up, and serves the model card', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect(await json(await fetch(`${server.url}/readyz`))).toEqual({ status: 'ready' });
    const card = await json(await fetch(`${server.url}/v1/model`));
    expect(card.served).toBe(TEST_MODEL);
    expect(card.input.accepts).toContain('image/png');
  });

  it('answers MNIST test PNGs with the same digits as the model offline, and mostly correct', async () => {
    const offline = argmaxRows(await evaluateOnnxLogits(TEST_MODEL, { count: SAMPLE, images: test.images.subarray(0, SAMPLE * PIXELS), labels: test.labels.subarray(0, SAMPLE) }));
    const answers: Json[] = await Promise.all(pngs.map(async (png) => json(await post(png))));
    answers.forEach((a, i) => {
      expect(a.digit).toBe(offline[i]);
      expect(a.probabilities).toHaveLength(10);
      expect(a.probabilities.reduce((s: number, p: number) => s + p, 0)).toBeCloseTo(1, 4);
      expect(a.probability).toBe(a.probabilities[a.digit]);
    });
    const correct = answers.filter((a, i) => a.digit === test.labels[i]).length;
    expect(correct / SAMPLE).toBeGreaterThanOrEqual(0.95);
  });

  it('classifies the same digits inverted, scaled up 8×, off-centre, as JPEG and as an RGBA canvas export', async () => {
    const indices = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    const variants = await Promise.all(indices.flatMap((i) => [
      encode(mnistBitmap(test.images, i, { invert: true }), 'image/png'),
      encode(mnistBitmap(test.images, i, { scale: 8 }), 'image/png'),
      encode(mnistBitmap(test.images, i, { scale: 3, canvas: 200, offset: [110, 5] }), 'image/png'),
      encode(mnistBitmap(test.images, i, { invert: true, scale: 6 }), 'image/jpeg'),
      encode(canvasBitmap(test.images, i), 'image/png'),
    ]));
    // One at a time: this checks answers, not load (larger images also share one decoding worker).
    const digits: number[] = [];
    for (const v of variants) digits.push((await json(await post(v))).digit);
    const original: number[] = [];
    for (const i of indices) original.push((await json(await post(pngs[i]))).digit);
    const same = digits.filter((d, k) => d === original[Math.floor(k / 5)]).length;
    expect(same).toBeGreaterThanOrEqual(variants.length - 1); // at most one of 50 may flip
  });

  it('detects the format from the bytes, not the header, and echoes X-Request-Id', async () => {
    const res = await post(pngs[0], 'application/octet-stream', '/predict', { 'x-request-id': 'abc-123' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('abc-123');
    expect((await post(pngs[0], 'image/jpeg')).status).toBe(200);
    expect((await post(pngs[0])).headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers /predict/ as /predict', async () => {
    const direct = await json(await post(pngs[1]));
    const slash = await json(await post(pngs[1], 'image/png', '/predict/'));
    expect(slash).toEqual(direct);
  });

  it('returns the 28×28 input with ?debug=1', async () => {
    const body = await json(await post(pngs[1], 'image/png', '/predict?debug=1'));
    expect(body.input28).toHaveLength(784);
  });

  it('accepts multipart with one file (same object) and several files (predictions in upload order)', async () => {
    const one = new FormData();
    one.append('image', new Blob([pngs[0]], { type: 'image/png' }), 'a.png');
    const single = await json(await fetch(`${server.url}/predict`, { method: 'POST', body: one }));
    expect(single).toEqual(await json(await post(pngs[0])));
    const many = new FormData();
    [3, 4, 5].forEach((i) => many.append('image', new Blob([pngs[i]], { type: 'image/png' }), `d${i}.png`));
    many.append('image', new Blob([Buffer.from('not an image')]), 'bad.txt');
    const res = await json(await fetch(`${server.url}/predict`, { method: 'POST', body: many }));
    expect(res.predictions.map((p: { file: string }) => p.file)).toEqual(['d3.png', 'd4.png', 'd5.png', 'bad.txt']);
    expect(res.predictions.slice(0, 3).map((p: { digit: number }) => p.digit)).toEqual([3, 4, 5].map((i) => test.labels[i]));
    expect(res.predictions[3].error.code).toBe('IMAGE_UNSUPPORTED_FORMAT');
  });

  describe('errors: JSON {error: {code, message}}, stable codes', () => {
    it('400 REQUEST_EMPTY for an empty body', async () => expectError(await post(Buffer.alloc(0)), 400, 'REQUEST_EMPTY'));
    it("400 REQUEST_NO_IMAGE_FIELD for multipart without the field 'image'", async () => {
      const form = new FormData();
      form.append('picture', new Blob([pngs[0]]), 'a.png');
      await expectError(await fetch(`${server.url}/predict`, { method: 'POST', body: form }), 400, 'REQUEST_NO_IMAGE_FIELD');
      const fields = new FormData();
      fields.append('note', 'hello');
      await expectError(await fetch(`${server.url}/predict`, { method: 'POST', body: fields }), 400, 'REQUEST_NO_IMAGE_FIELD');
    });
    it('415 IMAGE_UNSUPPORTED_FORMAT for bytes that are no image we decode', async () =>
      expectError(await post(Buffer.from('hello, this is text'), 'image/png'), 415, 'IMAGE_UNSUPPORTED_FORMAT'));
    it('413 IMAGE_TOO_LARGE for a body over the limit (raw and multipart)', async () => {
      await expectError(await post(Buffer.alloc(400_000, 1)), 413, 'IMAGE_TOO_LARGE');
      const form = new FormData();
      form.append('image', new Blob([Buffer.alloc(400_000, 1)]), 'big.png');
      await expectError(await fetch(`${server.url}/predict`, { method: 'POST', body: form }), 413, 'IMAGE_TOO_LARGE');
    });
    it('413 IMAGE_TOO_LARGE for a chunked body (no Content-Length) once it passes the limit', async () => {
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        let answered = false;
        const req = request(`${server.url}/predict`, { method: 'POST', headers: { 'content-type': 'image/png' } }, (res) => {
          answered = true;
          let text = '';
          res.on('data', (c) => { text += c; });
          res.on('end', () => { resolve({ status: res.statusCode!, body: text }); req.destroy(); });
        });
        req.on('error', (e) => { if (!answered) reject(e); });
        // Keep sending until the server answers: it must not wait for the end of an over-limit body.
        const chunk = Buffer.alloc(64_000, 1);
        const pump = () => { if (!answered && !req.destroyed) req.write(chunk, () => setImmediate(pump)); };
        pump();
      });
      expect(status).toBe(413);
      expect(JSON.parse(body).error.code).toBe('IMAGE_TOO_LARGE');
    });
    it('422 IMAGE_UNDECODABLE for a truncated JPEG', async () => {
      const jpeg = await encode(mnistBitmap(test.images, 0, { scale: 4 }), 'image/jpeg');
      await expectError(await post(jpeg.subarray(0, Math.floor(jpeg.length * 0.6)), 'image/jpeg'), 422, 'IMAGE_UNDECODABLE');
    });
    it('422 IMAGE_UNDECODABLE for a corrupt PNG', async () => {
      const bad = Buffer.from(pngs[0]);
      bad.fill(7, 40, bad.length - 12);
      await expectError(await post(bad), 422, 'IMAGE_UNDECODABLE');
    });
    it('422 IMAGE_NO_DIGIT for a blank photo, a flat colour and an empty canvas; as its own entry among several files', async () => {
      const blankPhoto = await encode({ width: 640, height: 480, data: new Uint8Array(640 * 480 * 4).fill(236) }, 'image/jpeg');
      const flat = await encode({ width: 90, height: 60, data: Uint8Array.from({ length: 90 * 60 * 4 }, (_, i) => [40, 120, 200, 255][i % 4]) }, 'image/png');
      const emptyCanvas = await encode({ width: 280, height: 280, data: new Uint8Array(280 * 280 * 4) }, 'image/png');
      for (const img of [blankPhoto, flat, emptyCanvas]) {
        const res = await post(img);
        await expectError(res, 422, 'IMAGE_NO_DIGIT');
      }
      const form = new FormData();
      form.append('image', new Blob([pngs[6]], { type: 'image/png' }), 'six.png');
      form.append('image', new Blob([emptyCanvas], { type: 'image/png' }), 'empty.png');
      const res = await json(await fetch(`${server.url}/predict`, { method: 'POST', body: form }));
      expect(res.predictions[0].digit).toBe(test.labels[6]);
      expect(res.predictions[1]).toMatchObject({ file: 'empty.png', error: { code: 'IMAGE_NO_DIGIT', message: expect.stringMatching(/no digit found/) } });
    });
    it('422 IMAGE_TOO_MANY_PIXELS for a PNG header claiming 60000×60000, refused before decoding', async () => {
      const bomb = Buffer.from(pngs[0]);
      bomb.writeUInt32BE(60000, 16);
      bomb.writeUInt32BE(60000, 20);
      const res = await post(bomb);
      // The message quotes the header's size: the refusal came from the header, with nothing decoded.
      expect(((await res.clone().json()) as { error: { message: string } }).error.message).toMatch(/60000×60000/);
      await expectError(res, 422, 'IMAGE_TOO_MANY_PIXELS');
    });
    it('404 NOT_FOUND for an unknown route', async () => expectError(await fetch(`${server.url}/nope`), 404, 'NOT_FOUND'));
  });

  it('exposes Prometheus metrics', async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    for (const name of ['http_requests_total', 'http_request_duration_seconds', 'mnist_queue_wait_seconds', 'mnist_batch_size',
      'mnist_queue_depth', 'mnist_images_total', 'nodejs_eventloop_lag_seconds']) expect(text).toContain(name);
    expect(text).toMatch(/http_requests_total\{route="\/predict",status="200"\} \d+/);
  });
});

describe('Open Inference Protocol (KServe v2) on the same server', () => {
  const v2 = (path: string, body?: unknown) => fetch(`${server.url}/v2${path}`, body === undefined ? {} : {
    method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' },
  });

  it('answers health, model metadata and model readiness', async () => {
    expect(await json(await v2('/health/live'))).toEqual({ live: true });
    expect((await v2('/health/ready')).status).toBe(200);
    const meta = await json(await v2('/models/mnist'));
    expect(meta).toMatchObject({ name: 'mnist', platform: 'onnxruntime_onnx' });
    expect(meta.inputs).toEqual([{ name: 'image', datatype: 'FP32', shape: [-1, 1, 28, 28] }]);
    expect(meta.outputs.map((o: Json) => [o.name, o.datatype])).toEqual([['probabilities', 'FP32'], ['digit', 'INT64'], ['number', 'BYTES'], ['number_boxes', 'INT64'], ['number_probabilities', 'FP32'], ['digit_score', 'FP32']]);
    expect(await json(await v2('/models/mnist/ready'))).toEqual({ name: 'mnist', ready: true });
  });

  it('walks the protocol: server metadata, every model route under /versions/<v>/ too, 404 for another version', async () => {
    const server = await json(await v2(''));
    expect(server).toEqual({ name: 'mnist-onnx', version: expect.stringMatching(/^\d+\.\d+\.\d+/), extensions: [] });
    const version = (await json(await v2('/models/mnist'))).versions[0];
    const at = `/models/mnist/versions/${version}`;
    expect(await json(await v2(at))).toMatchObject({ name: 'mnist', versions: [version] });
    expect(await json(await v2(`${at}/ready`))).toEqual({ name: 'mnist', ready: true });
    const body = { inputs: [{ name: 'image', shape: [1, 1, 28, 28], datatype: 'FP32', data: Array.from(test.images.subarray(0, PIXELS), (v) => v / 255) }] };
    const answer = await json(await v2(`${at}/infer`, body));
    expect(answer.outputs.find((o: Json) => o.name === 'digit').data).toEqual([test.labels[0]]);
    const other = await v2('/models/mnist/versions/999/ready');
    expect(other.status).toBe(404);
    expect((await json(other)).error).toMatch(/NOT_FOUND: model 'mnist' has no version '999'/);
  });

  it('infers an FP32 [N,1,28,28] tensor: probabilities [N,10] and digit [N], as /predict answers', async () => {
    const n = 3;
    const data = Array.from(test.images.subarray(0, n * PIXELS), (v) => v / 255);
    const res = await json(await v2('/models/mnist/infer', { id: 'r1', inputs: [{ name: 'image', shape: [n, 1, 28, 28], datatype: 'FP32', data }] }));
    expect(res).toMatchObject({ model_name: 'mnist', id: 'r1' });
    const probs = res.outputs.find((o: Json) => o.name === 'probabilities');
    const digit = res.outputs.find((o: Json) => o.name === 'digit');
    expect(probs).toMatchObject({ shape: [n, 10], datatype: 'FP32' });
    expect(probs.data).toHaveLength(n * 10);
    expect(digit).toMatchObject({ shape: [n], datatype: 'INT64' });
    const viaPredict = await Promise.all(pngs.slice(0, n).map(async (p) => (await json(await post(p))).digit));
    expect(digit.data).toEqual(viaPredict);
  });

  it('accepts a BYTES input of base64 image files and returns only the requested outputs', async () => {
    const res = await json(await v2('/models/mnist/infer', {
      inputs: [{ name: 'image', shape: [2], datatype: 'BYTES', data: [pngs[7].toString('base64'), pngs[8].toString('base64')] }],
      outputs: [{ name: 'digit' }],
    }));
    expect(res.outputs).toHaveLength(1);
    expect(res.outputs[0].data).toEqual([test.labels[7], test.labels[8]]);
  });

  it('gives a BYTES image with no digit its own entry in the output `error` (digit -1); alone, the whole answer is that error', async () => {
    const empty = await encode({ width: 280, height: 280, data: new Uint8Array(280 * 280 * 4) }, 'image/png');
    const res = await json(await v2('/models/mnist/infer', {
      inputs: [{ name: 'image', shape: [2], datatype: 'BYTES', data: [pngs[7].toString('base64'), empty.toString('base64')] }],
    }));
    const out = Object.fromEntries(res.outputs.map((o: { name: string; data: unknown[] }) => [o.name, o.data]));
    expect(out.digit).toEqual([test.labels[7], -1]);
    expect(out.error[0]).toBe('');
    expect(out.error[1]).toMatch(/^IMAGE_NO_DIGIT: no digit found/);
    expect(out.probabilities.slice(10)).toEqual(new Array(10).fill(0));
    const alone = await v2('/models/mnist/infer', { inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: [empty.toString('base64')] }] });
    expect(alone.status).toBe(400);
    expect((await json(alone)).error).toMatch(/^IMAGE_NO_DIGIT/);
  });

  it.each([
    ['a wrong shape', { inputs: [{ name: 'image', shape: [1, 28, 28], datatype: 'FP32', data: new Array(784).fill(0) }] }, /expected \[N,1,28,28\]/],
    ['too few values', { inputs: [{ name: 'image', shape: [2, 1, 28, 28], datatype: 'FP32', data: [0, 1] }] }, /needs 1568/],
    ['a non-number', { inputs: [{ name: 'image', shape: [1, 1, 28, 28], datatype: 'FP32', data: ['x', ...new Array(783).fill(0)] }] }, /not a finite number/],
    ['an unsupported datatype', { inputs: [{ name: 'image', shape: [1, 1, 28, 28], datatype: 'INT8', data: new Array(784).fill(0) }] }, /datatype INT8/],
    ['no inputs', { outputs: [] }, /exactly one entry in 'inputs'/],
    ['an input with another name', { inputs: [{ name: 'pixels', shape: [1, 1, 28, 28], datatype: 'FP32', data: new Array(784).fill(0) }] }, /unknown input 'pixels': this model's input is 'image'/],
    ['a BYTES element that is no image', { inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: ['aGVsbG8='] }] }, /IMAGE_UNSUPPORTED_FORMAT/],
  ])('answers 400 {"error": ...} for %s', async (_label, body, pattern) => {
    const res = await v2('/models/mnist/infer', body);
    expect(res.status).toBe(400);
    const err = await json(res);
    expect(Object.keys(err)).toEqual(['error']);
    expect(err.error).toMatch(pattern);
  });

  it('answers 400 for a body that is not JSON', async () => {
    const res = await fetch(`${server.url}/v2/models/mnist/infer`, { method: 'POST', body: '{nope', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(typeof (await json(res)).error).toBe('string');
  });
});

describe('access log', () => {
  it('writes one JSON line per request with its id, the URL as sent, status, latency and error code', async () => {
    const lines: Json[] = [];
    const sink = new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } });
    const logged = await startTestServer({}, pino({ level: 'info' }, sink));
    try {
      await logged.predictor.ready;
      await (await fetch(`${logged.url}/predict`, { method: 'POST', body: new Uint8Array(pngs[0]), headers: { 'x-request-id': 'req-raw' } })).arrayBuffer();
      await (await fetch(`${logged.url}/v2/models/mnist/infer`, { method: 'POST', body: '{nope', headers: { 'x-request-id': 'req-v2' } })).arrayBuffer();
      await new Promise((r) => setImmediate(r));
      const byId = (id: string) => lines.find((l) => l.msg === 'request' && l.reqId === id);
      expect(byId('req-raw')).toMatchObject({ method: 'POST', url: '/predict', status: 200 });
      expect(typeof byId('req-raw').ms).toBe('number');
      // Express rewrites req.url inside the /v2 router; the log keeps what the client sent.
      expect(byId('req-v2')).toMatchObject({ url: '/v2/models/mnist/infer', status: 400, code: 'REQUEST_BAD_TENSOR' });
    } finally {
      await logged.shutdown();
    }
  });
});

describe('overload and shutdown', () => {
  it('answers 503 QUEUE_FULL with Retry-After when the queue is full, and stays up', async () => {
    const small = await startTestServer({ maxQueue: 2, maxBatchSize: 1, maxBatchDelayMs: 0 });
    try {
      await small.predictor.ready;
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) =>
        fetch(`${small.url}/predict`, { method: 'POST', body: pngs[i % SAMPLE] })));
      const statuses = results.map((r) => r.status);
      expect(statuses).toContain(200);
      expect(statuses).toContain(503);
      const full = results.find((r) => r.status === 503)!;
      expect(full.headers.get('retry-after')).toBe('1');
      expect((await json(full)).error.code).toBe('QUEUE_FULL');
      await Promise.all(results.filter((r) => r !== full).map((r) => r.arrayBuffer()));
      expect((await fetch(`${small.url}/predict`, { method: 'POST', body: pngs[0] })).status).toBe(200);
    } finally {
      await small.shutdown();
    }
  });

  it('finishes an in-flight request on shutdown, then refuses connections', async () => {
    const s = await startTestServer();
    await s.predictor.ready;
    const accepted = new Promise((r) => s.server.once('request', r));
    const inFlight = fetch(`${s.url}/predict`, { method: 'POST', body: pngs[2] });
    await accepted; // its headers are in: the server owes it an answer
    const stopped = s.shutdown();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect((await json(res)).digit).toBe(test.labels[2]);
    await stopped;
    await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
  });
});
