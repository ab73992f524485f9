import { request } from 'node:http';

/**
 * What a stop under load looks like from the clients' side, each request on a connection of its own so
 * that a refused connection (nothing was sent) is told apart from a request sent and never answered.
 * `make container-test` and the drain tests judge a stop with these.
 */

export interface StopOutcome {
  sent: number; // requests whose connection was made: the client wrote (or began writing) its request
  answered: number; // 200
  refused: number; // the connection itself failed (refused, or timed out connecting): nothing was sent
  lost: number; // sent and then not answered 200: reset, hung up, or an error status
  answeredAfterStop: number; // answers that arrived after the stop began
  lostDetail: string[];
}

export interface OneRequest { body: Uint8Array; type: string }

type Result = { kind: 'answer'; status: number; body: string } | { kind: 'refused' } | { kind: 'lost'; reason: string };

/** POSTs `body` to `url` on a new connection (no agent) and says what became of it. */
export function postAlone(url: string, r: OneRequest, timeoutMs = 30_000): Promise<Result> {
  return new Promise((resolve) => {
    let connected = false;
    const req = request(url, { method: 'POST', agent: false, headers: { 'Content-Type': r.type, 'Content-Length': String(r.body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ kind: 'answer', status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => resolve({ kind: 'lost', reason: `response: ${err.message}` }));
    });
    req.on('socket', (s) => s.once('connect', () => { connected = true; }));
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => resolve(connected ? { kind: 'lost', reason: `${err.code ?? ''} ${err.message}`.trim() } : { kind: 'refused' }));
    req.end(r.body);
  });
}

function count(outcome: StopOutcome, result: Result, afterStop: boolean): void {
  if (result.kind === 'refused') {
    outcome.refused++;
    return;
  }
  outcome.sent++;
  if (result.kind === 'answer' && result.status === 200) {
    outcome.answered++;
    if (afterStop) outcome.answeredAfterStop++;
    return;
  }
  outcome.lost++;
  outcome.lostDetail.push(result.kind === 'answer' ? `${result.status} ${result.body.slice(0, 120)}` : result.reason);
}

const emptyOutcome = (): StopOutcome => ({ sent: 0, answered: 0, refused: 0, lost: 0, answeredAfterStop: 0, lostDetail: [] });

/**
 * Sends every request at once, each on a fresh connection, calls `stop` `stopAfterMs` later (while they
 * are being read, decoded and inferred), and waits for every answer.
 */
export async function stopDuringRequests(url: string, requests: OneRequest[], stop: () => void, stopAfterMs: number): Promise<StopOutcome> {
  const outcome = emptyOutcome();
  let stopped = false;
  const all = Promise.all(requests.map(async (r) => count(outcome, await postAlone(url, r), stopped)));
  await new Promise((r) => setTimeout(r, stopAfterMs));
  stopped = true;
  stop();
  await all;
  return outcome;
}

/**
 * `clients` clients post the bodies in turn, each request on a new connection, until the server refuses
 * their connection after the stop; `stop` is called `beforeStopMs` into the burst and resolves when the
 * server has stopped.
 */
export async function burstAcrossStop<T>(url: string, bodies: OneRequest[], clients: number, beforeStopMs: number, stop: () => Promise<T>): Promise<StopOutcome & { stop: T }> {
  const outcome = emptyOutcome();
  let stopAt = Infinity;
  const client = async (k: number) => {
    for (let i = k; ; i++) {
      const result = await postAlone(url, bodies[i % bodies.length]);
      count(outcome, result, performance.now() > stopAt);
      if (result.kind === 'refused') return;
    }
  };
  const running = Array.from({ length: clients }, (_, k) => client(k));
  await new Promise((r) => setTimeout(r, beforeStopMs));
  stopAt = performance.now();
  const [stopped] = await Promise.all([stop(), Promise.all(running)]);
  return { ...outcome, stop: stopped };
}
