import { parentPort } from 'node:worker_threads';
import type { ErrorCode } from '../errors';

/**
 * How a pool (pool.ts) and its workers talk. A protocol names each kind of task with the shape of its
 * request and of its reply; the pool and the worker are both typed by it, so neither casts.
 * @example interface DecodeProtocol { decode: { request: { bytes: Uint8Array }; reply: { input: Float32Array } } }
 */
export type Protocol = { [type: string]: { request: unknown; reply: unknown } };

/** Pool → worker: one task. */
export type TaskMessage<P extends Protocol> = { [K in keyof P]: { id: number; type: K; body: P[K]['request'] } }[keyof P];

/** Worker → pool: the reply to task `id`, or its error (a code from the catalogue, checked on arrival). */
export type ResultMessage =
  | { id: number; ok: true; body: unknown }
  | { id: number; ok: false; error: { code?: string; message: string } };

/**
 * Worker → pool, once: the worker's module has run (native modules loaded). The pool terminates a worker
 * only after this: a thread stopped while a native addon initialises aborts the whole process.
 */
export type ReadyMessage = { ready: true };

/** A reply together with the buffers to move (not copy) back to the pool. */
export class Transfer<R> {
  constructor(readonly body: R, readonly list: ArrayBuffer[]) {}
}

export type Handlers<P extends Protocol> = {
  [K in keyof P]: (body: P[K]['request']) => P[K]['reply'] | Transfer<P[K]['reply']> | Promise<P[K]['reply'] | Transfer<P[K]['reply']>>;
};

/**
 * The worker's side: answers each task with its handler's reply, or with the error it threw (its `code`
 * when it has one, else `fallbackCode`). Tasks run one after another, in the order they came.
 */
export function answerTasks<P extends Protocol>(handlers: Handlers<P>, fallbackCode: ErrorCode): void {
  const port = parentPort!;
  let previous = Promise.resolve();
  port.on('message', (msg: TaskMessage<P>) => { previous = previous.then(() => answer(msg)); });
  port.postMessage({ ready: true } satisfies ReadyMessage);
  async function answer(msg: TaskMessage<P>): Promise<void> {
    try {
      const out = await handlers[msg.type](msg.body);
      if (out instanceof Transfer) port.postMessage({ id: msg.id, ok: true, body: out.body } satisfies ResultMessage, out.list);
      else port.postMessage({ id: msg.id, ok: true, body: out } satisfies ResultMessage);
    } catch (err) {
      const e = err as Error & { code?: unknown };
      port.postMessage({ id: msg.id, ok: false, error: { code: typeof e.code === 'string' ? e.code : fallbackCode, message: e.message } } satisfies ResultMessage);
    }
  }
}
