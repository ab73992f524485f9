import { readFileSync } from 'node:fs';
import { startServer, RunningServer } from '../../src/serve/server';

/**
 * A layout hypothesis through the real server and model: a printed page (the tuned family
 * printed-text, seed 1, picture #1) whose heading, label and paragraph beside a handwritten 8 are
 * printed text, with a solid round logo in a corner that outweighs the 8.
 */
const MODEL = process.env.TEST_MODEL ?? 'artifacts/mnist-cnn.int8.onnx';
const PRINTED = readFileSync('test/fixtures/layouts/printed-text-8.jpg');

let server: RunningServer;

beforeAll(async () => {
  server = await startServer({ port: 0, host: '127.0.0.1', model: MODEL, logLevel: 'silent', watchdogMs: 0, workers: 1 });
  await server.predictor.ready;
});
afterAll(() => server.shutdown());

describe('a digit on a printed page', () => {
  it('is read without the printed text and the logo, which the page pipeline takes for the digit', async () => {
    const res = await fetch(`${server.url}/predict?debug=1`, { method: 'POST', body: PRINTED, headers: { 'content-type': 'image/jpeg' } });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.digit).toBe(8);
    expect(body.reading).toBe('print');
    // The page pipeline's own reading is the logo, in the top-left corner, not the 8 in the middle.
    const page = body.readings.find((r: { kind: string }) => r.kind === 'page');
    expect(page.chosen).toBe(false);
    expect(page.box.x + page.box.width).toBeLessThan(body.digits[0].box.x);
  });
});
