import type { Logger } from 'pino';
import { startServer, RunningServer } from '../../src/serve/server';
import type { ServeConfig } from '../../src/serve/config';
import { TEST_MODEL } from './model';

/**
 * A real server on a free loopback port, serving the test model with one inference worker and no log;
 * `options` override any of these. It resolves once listening, before the model has loaded (which
 * `server.predictor.ready` waits for).
 *
 * watchdogMs is 0: jest runs the tests on the server's own HTTP thread, so a test's synchronous work
 * (building bitmaps, slow in jest) would trip the watchdog; test/serve/watchdog.test.ts checks it in a
 * process of its own.
 */
export function startTestServer(options: Partial<ServeConfig> = {}, logger?: Logger): Promise<RunningServer> {
  return startServer({ port: 0, host: '127.0.0.1', model: TEST_MODEL, logLevel: 'silent', watchdogMs: 0, workers: 1, ...options }, logger);
}

/** startTestServer, resolved once the model has loaded. */
export async function startReadyServer(options: Partial<ServeConfig> = {}): Promise<RunningServer> {
  const running = await startTestServer(options);
  await running.predictor.ready;
  return running;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** POSTs raw bytes (as application/octet-stream) or a form to `/predict` + `query`; the status and the JSON answer. */
export async function postPredict(running: RunningServer, body: Buffer | FormData, query = ''): Promise<{ status: number; body: Json }> {
  const headers: Record<string, string> = body instanceof FormData ? {} : { 'content-type': 'application/octet-stream' };
  const res = await fetch(`${running.url}/predict${query}`, { method: 'POST', body: body as RequestInit['body'], headers });
  return { status: res.status, body: await res.json() };
}
