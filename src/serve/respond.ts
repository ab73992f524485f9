import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { AppError, isAppError } from '../errors';
import type { Metrics } from './prometheus';
import type { ServerState } from './server-state';

/**
 * What every request shares, whichever path answers it (Express, or the raw /predict path that skips
 * Express): request id, access log, metrics, JSON bodies and the error catalogue.
 */

export interface RequestRecord {
  id: string;
  /** The route label for metrics, set by whoever answers; Express's matched route otherwise. */
  route?: string;
  /** The error code answered, for the access log. */
  errorCode?: string;
}

const records = new WeakMap<ServerResponse, RequestRecord>();

/** The record trackRequest made for this response (undefined for a response it never saw). */
export function requestRecord(res: ServerResponse): RequestRecord | undefined {
  return records.get(res);
}

const PROBE_ROUTES = new Set(['/healthz', '/readyz', '/metrics', '/v2/health/live', '/v2/health/ready']);

export interface TrackDeps { logger: Logger; metrics: Metrics; state: Pick<ServerState, 'draining'> }

/**
 * Gives the request an id (X-Request-Id when the client sent one, echoed back), and when the response
 * finishes, counts it, observes its latency and writes the access log line.
 */
export function trackRequest(req: IncomingMessage, res: ServerResponse, deps: TrackDeps): RequestRecord {
  const start = performance.now();
  const url = req.url; // now: Express rewrites req.url inside mounted routers
  const header = req.headers['x-request-id'];
  const id = (typeof header === 'string' ? header.slice(0, 128) : '') || randomUUID();
  const record: RequestRecord = { id };
  records.set(res, record);
  res.setHeader('X-Request-Id', id);
  if (deps.state.draining) res.setHeader('Connection', 'close');
  res.on('finish', () => {
    const expressRoute = (req as { route?: { path?: string } }).route?.path;
    const route = record.route ?? expressRoute ?? (res.statusCode < 400 && req.method === 'GET' ? 'static' : 'unmatched');
    const ms = performance.now() - start;
    deps.metrics.requests.inc({ route, status: String(res.statusCode) });
    deps.metrics.latency.observe({ route }, ms / 1000);
    const { logger } = deps;
    // Probes and scrapes at debug; expected overload answers (503) at warn; other 5xx at error; the rest at info.
    const level = PROBE_ROUTES.has(route) ? 'debug' : res.statusCode === 503 ? 'warn' : res.statusCode >= 500 ? 'error' : 'info';
    if (!logger.isLevelEnabled(level)) return;
    logger[level]({ reqId: id, method: req.method, url, status: res.statusCode, ms: Number(ms.toFixed(2)), code: record.errorCode }, 'request');
  });
  return record;
}

/** Answers `body` as JSON in one write (headers and body together). */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  writeJsonHead(res, status, json);
  res.end(json);
}

/** The status line and headers of an answer whose body is `json`. */
function writeJsonHead(res: ServerResponse, status: number, json: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(json) });
}

export function errorBody(err: AppError): { error: { code: string; message: string } } {
  return { error: { code: err.code, message: err.message } };
}

/** IMAGE_TOO_LARGE for a body or file over `limit` bytes, however it was found out. */
export function tooLarge(limit: number): AppError {
  return new AppError('IMAGE_TOO_LARGE', `the upload is larger than the limit of ${limit} bytes`);
}

/** What busboy (multer's parser) says of a multipart body it cannot parse. */
const BUSBOY_MALFORMED = /^(Multipart: Boundary not found|Unexpected end of form|Malformed part header|Unexpected end of file)/;

/** Maps errors thrown by body parsers and multer to our catalogue. */
export function normalizeError(err: unknown, maxBodyBytes: number): AppError {
  if (isAppError(err)) return err;
  const e = err as { type?: string; code?: string; field?: string; message?: string };
  if (e.type === 'entity.too.large' || e.code === 'LIMIT_FILE_SIZE') return tooLarge(maxBodyBytes);
  if (e.code === 'LIMIT_UNEXPECTED_FILE') return new AppError('REQUEST_NO_IMAGE_FIELD', `unexpected file field '${e.field}': send files in the field 'image'`);
  if (e.code === 'LIMIT_FILE_COUNT') return new AppError('REQUEST_TOO_MANY_FILES', 'more files in one request than the server takes (MNIST_MAX_FILES)');
  if (e.type === 'request.aborted' || e.code === 'STREAM_DESTROYED' || e.code === 'ECONNRESET') {
    return new AppError('REQUEST_ABORTED', 'the client closed the connection before the body ended');
  }
  if (e.code?.startsWith('LIMIT_') || BUSBOY_MALFORMED.test(e.message ?? '')) return new AppError('REQUEST_MALFORMED', `malformed request: ${e.message}`);
  return new AppError('INTERNAL_ERROR', 'internal error');
}

/** How a family of routes writes an error: its status and body. */
export type ErrorFormat = (e: AppError) => { status: number; body: unknown };

/** This server's own routes: the error's status, {error: {code, message}}. */
export const APP_ERROR_FORMAT: ErrorFormat = (e) => ({ status: e.status, body: errorBody(e) });

/**
 * Answers an error in `opts.format` (this server's own by default), never with a stack trace.
 * Unexpected errors (not AppErrors) are logged with their stack; overload and draining answers carry
 * Retry-After; a refused upload still arriving is drained before the connection closes.
 */
export function sendError(res: ServerResponse, err: unknown, opts: { maxBodyBytes: number; logger: Logger; format?: ErrorFormat }): void {
  const e = normalizeError(err, opts.maxBodyBytes);
  const record = requestRecord(res);
  if (e.status >= 500 && !isAppError(err)) opts.logger.error({ reqId: record?.id, err }, 'unexpected error');
  if (record) record.errorCode = e.code;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (e.code === 'QUEUE_FULL' || e.code === 'SERVER_DRAINING') res.setHeader('Retry-After', '1');
  if (e.code === 'SERVER_DRAINING') res.setHeader('Connection', 'close');
  const { status, body } = (opts.format ?? APP_ERROR_FORMAT)(e);
  if (e.code === 'IMAGE_TOO_LARGE') answerThenLinger(res, status, body);
  else sendJson(res, status, body);
}

export const LINGER_DEFAULTS = Object.freeze({
  maxBytes: 64 * 1024 * 1024, // body bytes read and dropped after a 413 before the connection is cut
  maxMs: 10_000, // ms the rest of a refused body may take to arrive
});

/**
 * Answers a body that is too large while it may still be arriving: the whole answer is written at once,
 * then the rest of the body is read and dropped, for a bounded time and amount, before the response
 * ends and the connection closes (a lingering close, as nginx does). Closing at once would reset the
 * connection under a client that sends the whole body before reading (Python's http.client, most SDKs),
 * and the reset throws away the 413 it was about to read. The response is ended only after the body
 * because Node closes a connection as soon as its last response ends, whatever is still unread. A
 * client that asked to be told before sending (Expect: 100-continue, never continued for a body over
 * the limit) sends nothing more, so its answer ends now.
 */
export function answerThenLinger(res: ServerResponse, status: number, body: unknown, limits = LINGER_DEFAULTS): void {
  const req = res.req;
  const socket = req.socket;
  const json = JSON.stringify(body);
  // The connection closes after the answer: what is left of the body is not a request.
  res.setHeader('Connection', 'close');
  writeJsonHead(res, status, json);
  if (req.complete || socket.destroyed || /100-continue/i.test(req.headers.expect ?? '')) {
    res.end(json);
    return;
  }
  res.write(json);
  let dropped = 0;
  const cut = () => { clearTimeout(timer); socket.destroy(); };
  const timer = setTimeout(cut, limits.maxMs).unref();
  req.on('data', (chunk: Buffer) => { if ((dropped += chunk.length) > limits.maxBytes) cut(); });
  req.once('end', () => { clearTimeout(timer); res.end(); });
  req.once('close', () => clearTimeout(timer));
  req.resume();
}
