import { createServer as createHttpServer } from 'node:http';
import { AddressInfo, createServer, Server } from 'node:net';
import { digits } from '../../src/deploy/container-test';
import { postAlone } from '../../src/deploy/stop-under-load';

/** How a stop under load is judged from the client's side: refused (nothing sent), lost, or answered. */

const listen = (s: Server) => new Promise<string>((resolve) => s.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(s.address() as AddressInfo).port}/predict`)));
const close = (s: Server) => new Promise((r) => s.close(r));
const body = { body: Buffer.from('not really a picture'), type: 'application/octet-stream' };

describe('postAlone', () => {
  it('a port nobody listens on is refused: the request was never sent', async () => {
    const s = createServer();
    const url = await listen(s);
    await close(s);
    expect(await postAlone(url, body)).toEqual({ kind: 'refused' });
  });

  it('a connection reset after the request was written is lost, not refused', async () => {
    const s = createServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
    const url = await listen(s);
    try {
      expect(await postAlone(url, body)).toMatchObject({ kind: 'lost', reason: expect.stringMatching(/ECONNRESET/) });
    } finally {
      await close(s);
    }
  });

  it('an answer is an answer, whatever its status', async () => {
    const s = createHttpServer((req, res) => { req.resume(); req.on('end', () => res.writeHead(503).end('{"error":{}}')); });
    const url = await listen(s);
    try {
      expect(await postAlone(url, body)).toEqual({ kind: 'answer', status: 503, body: '{"error":{}}' });
    } finally {
      await close(s);
    }
  });
});

describe('the container test\'s reading of an answer', () => {
  it('gives the digit of one image, the digits of several, and none for an error', () => {
    expect(digits({ kind: 'answer', status: 200, body: '{"digit":7,"probability":0.9}' })).toEqual([7]);
    expect(digits({ kind: 'answer', status: 200, body: '{"predictions":[{"digit":7},{"digit":2}]}' })).toEqual([7, 2]);
    expect(digits({ kind: 'answer', status: 422, body: '{"error":{}}' })).toEqual([]);
    expect(digits({ kind: 'lost', reason: 'ECONNRESET' })).toEqual([]);
  });
});
