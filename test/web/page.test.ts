import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { chromium, Browser, Page } from 'playwright-core';
import { loadMnist } from '../../src/data/mnist';
import type { RunningServer } from '../../src/serve/server';
import { encode, mnistBitmap } from '../helpers/images';
import { startReadyServer } from '../helpers/server';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = 'test-output';

let server: RunningServer;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (.ci/run does)`);
  server = await startReadyServer();
  browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  page = await browser.newPage({ viewport: { width: 900, height: 800 } });
  await page.goto(server.url);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.shutdown();
});

/** Draws a polyline on the pad, in fractions of its size. */
async function stroke(points: Array<[number, number]>): Promise<void> {
  const box = (await page.locator('#pad').boundingBox())!;
  const at = ([fx, fy]: [number, number]) => [box.x + fx * box.width, box.y + fy * box.height] as const;
  await page.mouse.move(...at(points[0]));
  await page.mouse.down();
  for (const p of points.slice(1)) await page.mouse.move(...at(p), { steps: 12 });
  await page.mouse.up();
}

async function expectDigit(d: string): Promise<void> {
  await page.waitForFunction((want) => document.getElementById('digit')?.textContent === want, d, { timeout: 10_000 });
}

describe('drawing page in headless Chromium', () => {
  it('has labelled, keyboard-reachable controls', async () => {
    expect(await page.title()).toMatch(/digit/i);
    expect(await page.getAttribute('#pad', 'aria-label')).toMatch(/draw/i);
    await page.focus('#clear');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('clear');
  });

  it('recognises a drawn 1', async () => {
    await page.click('#clear');
    await stroke([[0.5, 0.15], [0.5, 0.85]]);
    await expectDigit('1');
  });

  it('recognises a drawn 7 and shows the 10 bars and the 28×28 input', async () => {
    await page.click('#clear');
    await stroke([[0.38, 0.2], [0.62, 0.2], [0.46, 0.85]]);
    await expectDigit('7');
    expect(await page.locator('#bars li').count()).toBe(10);
    const inked = await page.evaluate(() => {
      const c = (document.getElementById('seen') as HTMLCanvasElement).getContext('2d')!;
      return Array.from(c.getImageData(0, 0, 28, 28).data).filter((v, i) => i % 4 === 0 && v > 128).length;
    });
    expect(inked).toBeGreaterThan(20);
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: `${SHOTS}/page-drawn-7.png`, fullPage: true });
  });

  it('classifies a dropped image file and a picked one', async () => {
    const { test } = await loadMnist();
    const png = await encode(mnistBitmap(test.images, 1, { invert: true, scale: 5 }), 'image/png'); // a "2" on paper
    await page.evaluate(async (b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], 'two.png', { type: 'image/png' }));
      document.getElementById('drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, png.toString('base64'));
    await expectDigit(String(test.labels[1]));
    const four = await encode(mnistBitmap(test.images, 4, { scale: 3 }), 'image/png');
    await page.setInputFiles('#file', { name: 'four.png', mimeType: 'image/png', buffer: four });
    await expectDigit(String(test.labels[4]));
    await page.screenshot({ path: `${SHOTS}/page-dropped.png`, fullPage: true });
  });

  it('reads a drawn number, with a box over each digit', async () => {
    await page.click('#clear');
    await stroke([[0.2, 0.15], [0.2, 0.85]]); // a 1
    await stroke([[0.42, 0.2], [0.68, 0.2], [0.5, 0.85]]); // a 7
    await stroke([[0.8, 0.15], [0.8, 0.85]]); // a 1
    await expectDigit('171');
    expect(await page.locator('#digits li').allTextContents()).toEqual([expect.stringMatching(/^1\d/), expect.stringMatching(/^7\d/), expect.stringMatching(/^1\d/)]);
    expect(await page.isHidden('#bars')).toBe(true);
    // A box over each digit, drawn on the layer above the pad.
    expect(await page.getAttribute('#boxes', 'data-boxes')).toBe('3');
    expect(await page.evaluate(() => {
      const c = document.getElementById('boxes') as HTMLCanvasElement;
      return c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data.some((v, i) => i % 4 === 3 && v > 0);
    })).toBe(true);
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: `${SHOTS}/page-number.png`, fullPage: true });
    await page.click('#clear');
    expect(await page.locator('#digits li').count()).toBe(0);
    expect(await page.isHidden('#bars')).toBe(false);
  });

  it('shows a readable error for a file that is not an image', async () => {
    await page.setInputFiles('#file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
    await page.waitForSelector('#error:not([hidden])');
    expect(await page.textContent('#error')).toMatch(/not a PNG, JPEG.*IMAGE_UNSUPPORTED_FORMAT/);
  });

  it('says "no digit found" for a blank picture instead of guessing', async () => {
    const blank = await encode({ width: 280, height: 280, data: new Uint8Array(280 * 280 * 4).fill(255) }, 'image/png');
    await page.setInputFiles('#file', { name: 'blank.png', mimeType: 'image/png', buffer: blank });
    await page.waitForFunction(() => document.getElementById('prob')?.textContent === 'no digit found', undefined, { timeout: 10_000 });
    expect(await page.textContent('#digit')).toBe('–');
    expect(await page.isHidden('#error')).toBe(true);
    await page.screenshot({ path: `${SHOTS}/page-no-digit.png`, fullPage: true });
  });

  it('says "not a digit" for a photo of a letter instead of guessing', async () => {
    const letter = readFileSync('test/fixtures/not-a-digit/letter.jpg');
    await page.setInputFiles('#file', { name: 'letter.jpg', mimeType: 'image/jpeg', buffer: letter });
    await page.waitForFunction(() => document.getElementById('prob')?.textContent === 'not a digit', undefined, { timeout: 10_000 });
    expect(await page.textContent('#digit')).toBe('–');
    // The drawing left from the tests before gives way to the picture: the answer is the file's.
    expect(await page.getAttribute('#pad', 'aria-label')).toBe('The picture sent: letter.jpg');
    expect(await page.locator('#digits li').count()).toBe(0);
    expect(await page.isHidden('#error')).toBe(true);
    await page.screenshot({ path: `${SHOTS}/page-not-a-digit.png`, fullPage: true });
  });

  it('fits a phone-width screen', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(375);
    await page.screenshot({ path: `${SHOTS}/page-phone.png`, fullPage: true });
  });
});
