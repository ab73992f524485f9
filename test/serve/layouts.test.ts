import { readFileSync } from 'node:fs';
import type { RunningServer } from '../../src/serve/server';
import { postPredict, startReadyServer } from '../helpers/server';

/**
 * Layout hypotheses through the real server and model, on pictures of the tuned families (seed 1): a
 * printed page (printed-text #1) whose heading, label and paragraph beside a handwritten 8 are printed
 * text, with a solid round logo in a corner that outweighs the 8; a turned sheet on a desk
 * (sheet-on-desk #430) whose slanted edge beside the 3 the number's line took for a 1; a 4 cut out
 * tightly (tight-crop, seed 6, #68) whose long stroke the page pipeline cut short.
 */
const PRINTED = readFileSync('test/fixtures/layouts/printed-text-8.jpg');
const SHEET = readFileSync('test/fixtures/layouts/sheet-on-desk-3.jpg');
const TIGHT = readFileSync('test/fixtures/layouts/tight-crop-4.jpg');

let server: RunningServer;

beforeAll(async () => {
  server = await startReadyServer();
});
afterAll(() => server.shutdown());

const post = async (body: Buffer) => {
  const answer = await postPredict(server, body, '?debug=1');
  expect(answer.status).toBe(200);
  return answer.body;
};

describe('layouts', () => {
  it('reads a digit on a printed page without the printed text and the logo, which the page pipeline takes for the digit', async () => {
    const body = await post(PRINTED);
    expect(body.digit).toBe(8);
    expect(body.reading).toBe('print');
    // The page pipeline's own reading is the logo, in the top-left corner, not the 8 in the middle.
    const page = body.readings.find((r: { kind: string }) => r.kind === 'page');
    expect(page.chosen).toBe(false);
    expect(page.box.x + page.box.width).toBeLessThan(body.digits[0].box.x);
  });

  it('reads a digit on a turned sheet alone: the slanted edge of the sheet lies inside its box but off the sheet', async () => {
    const body = await post(SHEET);
    expect(body.number).toBe('3');
    expect(body.readings.some((r: { kind: string }) => r.kind === 'sheet')).toBe(true);
  });

  it('lets the whole picture\'s crop overrule a refused page reading when the digit score is sure of it', async () => {
    const body = await post(TIGHT);
    const kind = (k: string) => body.readings.find((r: { kind: string }) => r.kind === k);
    // The page pipeline found the 4 without most of its long stroke: a mark the head refuses.
    expect(kind('page').digitScore).toBeLessThan(0.5);
    expect(kind('tight').digitScore).toBeGreaterThanOrEqual(0.99);
    expect([body.reading, body.digit, body.isDigit]).toEqual(['tight', 4, true]);
  });
});
