import { Worker } from 'node:worker_threads';
import { workerScript } from '../worker-script';
import { AppError } from '../errors';
import type { FromWorker, InitMessage, ToWorker } from './protocol';

type Waiter = { resolve: (m: FromWorker) => void; reject: (e: Error) => void };

/** A replica worker with request/response messaging (one answer per request, in order). */
export class Replica {
  private readonly worker: Worker;
  private readonly waiters: Waiter[] = [];
  private dead: Error | null = null;

  constructor() {
    const script = workerScript(__dirname, 'replica-worker');
    this.worker = new Worker(script.path, { execArgv: script.execArgv });
    this.worker.on('message', (msg: FromWorker) => {
      const w = this.waiters.shift();
      if (!w) return;
      if (msg.type === 'error') {
        const err = new AppError((msg.code as never) ?? 'MODEL_INVALID', msg.message);
        w.reject(err);
      } else w.resolve(msg);
    });
    const fail = (err: Error) => {
      this.dead = err;
      for (const w of this.waiters.splice(0)) w.reject(err);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => { if (code !== 0) fail(new Error(`replica worker exited with code ${code}`)); });
  }

  request<T extends FromWorker['type']>(msg: ToWorker, transfer: ArrayBuffer[] = []): Promise<Extract<FromWorker, { type: T }>> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve: resolve as (m: FromWorker) => void, reject });
      this.worker.postMessage(msg, transfer);
    });
  }

  async close(): Promise<void> {
    if (this.dead) return;
    this.worker.postMessage({ type: 'close' } satisfies ToWorker);
    await new Promise((r) => this.worker.once('exit', r));
  }
}

/** Starts `n` replicas and initialises them identically. */
export async function startReplicas(n: number, init: Omit<InitMessage, 'workerIndex' | 'numWorkers'>): Promise<{ replicas: Replica[]; ready: Extract<FromWorker, { type: 'ready' }> }> {
  const replicas = Array.from({ length: n }, () => new Replica());
  try {
    const answers = await Promise.all(replicas.map((r, i) => r.request<'ready'>({ ...init, type: 'init', workerIndex: i, numWorkers: n })));
    return { replicas, ready: answers[0] };
  } catch (err) {
    await Promise.allSettled(replicas.map((r) => r.close()));
    throw err;
  }
}
