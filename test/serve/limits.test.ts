import { request } from 'node:http';
import { connect } from 'node:net';
import sharp from 'sharp';
import type { RunningServer } from '../../src/serve/server';
import { startReadyServer, startTestServer } from '../helpers/server';

const LIMIT = 3_000_000;

let server: RunningServer;
beforeAll(async () => {
  server = await startReadyServer({ maxBodyBytes: LIMIT, decodeWorkers: 1, maxDecodeQueue: 2 });
});
afterAll(() => server.shutdown());

describe('bodies over the limit', () => {
  /** Writes a 30 MB body in full before reading anything, as Python's http.client does; resolves with all it read. */
  function postWholeThenRead(extraHeaders: string): Promise<string> {
    const { port } = new URL(server.url);
    const body = Buffer.alloc(30 * 1024 * 1024, 0x41);
    return new Promise<string>((resolve, reject) => {
      const s = connect(Number(port), '127.0.0.1');
      let text = '';
      s.on('error', reject);
      s.on('connect', async () => {
        s.write(`POST /predict HTTP/1.1\r\nHost: x\r\n${extraHeaders}Content-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`);
        for (let at = 0; at < body.length; at += 1 << 20) {
          if (!s.write(body.subarray(at, at + (1 << 20)))) await new Promise((r) => s.once('drain', r));
        }
        s.on('data', (c) => { text += c; });
        s.on('end', () => resolve(text));
        s.resume();
      });
      s.pause();
    });
  }

  it.each([
    ['a kept-alive connection', ''],
    // Node's http.request with agent: false, curl -H 'Connection: close', most one-shot clients: the
    // answer is the connection's last, and closing it under the arriving body would reset it.
    ['Connection: close', 'Connection: close\r\n'],
  ])('lets a client that writes the whole 30 MB body before reading get the 413 JSON (lingering close), on %s', async (_, headers) => {
    const answer = await postWholeThenRead(headers);
    expect(answer).toMatch(/^HTTP\/1\.1 413/);
    expect(answer).toMatch(/"code":"IMAGE_TOO_LARGE"/);
  });

  it('answers Expect: 100-continue with a too-large Content-Length by 413, before the body is sent', async () => {
    const result = await new Promise<{ status: number; continued: boolean; body: string }>((resolve, reject) => {
      let continued = false;
      const req = request(`${server.url}/predict`, { method: 'POST', headers: { 'content-type': 'image/jpeg', 'content-length': 5_000_000, expect: '100-continue' } }, (res) => {
        let body = '';
        res.on('data', (c) => { body += c; });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, continued, body }));
      });
      req.on('continue', () => { continued = true; req.end(Buffer.alloc(5_000_000)); });
      req.on('error', reject);
      req.flushHeaders();
    });
    expect(result).toMatchObject({ status: 413, continued: false });
    expect(JSON.parse(result.body).error.code).toBe('IMAGE_TOO_LARGE');
  });

  it('still sends 100 Continue for a body within the limit', async () => {
    const png = await sharp({ create: { width: 40, height: 40, channels: 3, background: '#ffffff' } }).png().toBuffer();
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${server.url}/predict`, { method: 'POST', headers: { 'content-type': 'image/png', 'content-length': png.length, expect: '100-continue' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('continue', () => req.end(png));
      req.on('error', reject);
      req.flushHeaders();
    });
    expect(status).toBe(422); // a blank picture: IMAGE_NO_DIGIT, so the body did arrive and was read
  });
});

describe('overload with photos', () => {
  it('turns the excess into 503 QUEUE_FULL with Retry-After, never another 5xx, and stays healthy', async () => {
    const px = Buffer.alloc(2000 * 1500 * 3);
    for (let i = 0; i < px.length; i++) px[i] = 200 + ((i * 7919) % 41);
    const photo = await sharp(px, { raw: { width: 2000, height: 1500, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
    expect(photo.length).toBeLessThan(LIMIT);
    const answers = await Promise.all(Array.from({ length: 24 }, () => fetch(`${server.url}/predict`, { method: 'POST', body: photo, headers: { 'content-type': 'image/jpeg' } })));
    const statuses = answers.map((a) => a.status);
    expect(statuses.every((s) => s === 422 || s === 503)).toBe(true); // 422: a photo of blank paper has no digit
    const refused = answers.filter((a) => a.status === 503);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.headers.get('retry-after')).toBe('1');
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('QUEUE_FULL');
    }
    const ok = await fetch(`${server.url}/healthz`);
    expect(ok.status).toBe(200);
  });
});

describe('slow clients', () => {
  it('answers 408 to a client that stalls in its headers or its body, after the configured times', async () => {
    const slow = await startTestServer({ headersTimeoutMs: 400, uploadTimeoutMs: 800 });
    try {
      // The configured limits, not Node's defaults (60 s and 300 s), are the ones in force.
      expect([slow.server.headersTimeout, slow.server.requestTimeout]).toEqual([400, 800]);
      const port = Number(new URL(slow.url).port);
      const stall = (payload: string) => new Promise<{ ms: number; text: string }>((resolve) => {
        const t0 = performance.now();
        const s = connect(port, '127.0.0.1');
        let text = '';
        s.on('data', (c) => { text += c; });
        s.on('close', () => resolve({ ms: performance.now() - t0, text }));
        s.write(payload);
      });
      const headers = await stall('POST /predict HTTP/1.1\r\nHost: x\r\n');
      const body = await stall('POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc');
      for (const r of [headers, body]) expect(r.text).toMatch(/^HTTP\/1\.1 408/);
      // Never before the limit (a busy machine may make it later, which is no fault).
      expect(headers.ms).toBeGreaterThanOrEqual(400 - 5);
      expect(body.ms).toBeGreaterThanOrEqual(400 - 5);
    } finally {
      await slow.shutdown();
    }
  });
});
