import { Worker } from 'node:worker_threads';
import { AppError, isErrorCode } from '../errors';
import type { Protocol, TaskMessage, ResultMessage } from './protocol';

export { workerScript } from './script';

interface Pending { resolve: (r: unknown) => void; reject: (e: Error) => void }
interface Slot { worker: Worker; busy: boolean; pending: Map<number, Pending> }

export interface WorkerPoolOptions<D> {
  size: number; // worker threads
  workerData: D; // passed to every worker, replacements included
  maxWaiting?: number; // tasks that may wait for a worker before run() refuses with QUEUE_FULL (default: no bound)
  /** The error a task gets when its worker dies under it. */
  crashError: (message: string) => AppError;
  /** The error a task gets once the pool is closed. */
  closedError: () => AppError;
  /**
   * Start a new worker in a dead one's place (default). Off for workers that hold state the pool cannot
   * rebuild (training replicas): the pool then fails every later task with the crash.
   */
  respawn?: boolean;
}

export interface RunOptions {
  /** Buffers moved to the worker instead of copied. */
  transfer?: ArrayBuffer[];
  /** ms the task may wait for a free worker; past it the task gets `waitError` (REQUEST_TIMEOUT by default). */
  waitMs?: number;
  waitError?: () => AppError;
  /** ms the task may run; past it the worker is terminated and replaced and the task gets `timeoutError`. */
  deadlineMs?: number;
  timeoutError?: () => AppError;
}

/**
 * A fixed set of worker threads speaking protocol P (see protocol.ts), one task at a time each. `run`
 * picks an idle worker or waits for one; `runOn` addresses one worker (workers that hold state). A worker
 * that dies, or overruns a task's deadline, fails its task and is replaced, so one bad task cannot take
 * the pool down or shrink it. Error codes from workers are checked against the catalogue.
 * @example const pool = new WorkerPool<DecodeProtocol, DecodeWorkerData>(workerScript(__dirname, 'decode-worker'), opts);
 *          const { input } = await pool.run('decode', { bytes, maxPixels });
 */
export class WorkerPool<P extends Protocol, D = unknown> {
  private readonly slots: Slot[] = [];
  private readonly waiting: Array<() => void> = [];
  private nextId = 1;
  private closed = false;
  private dead: AppError | undefined;
  private readonly maxWaiting: number;
  /** Workers started in all, replacements included: a test sees a crash's replacement here. */
  spawned = 0;

  constructor(private readonly script: { path: string; execArgv: string[] }, private readonly opts: WorkerPoolOptions<D>) {
    this.maxWaiting = opts.maxWaiting ?? Infinity;
    for (let i = 0; i < opts.size; i++) this.slots.push(this.spawn());
  }

  get size(): number { return this.slots.length; }

  private spawn(): Slot {
    const worker = new Worker(this.script.path, { execArgv: this.script.execArgv, workerData: this.opts.workerData });
    this.spawned++;
    const slot: Slot = { worker, busy: false, pending: new Map() };
    worker.on('message', (msg: ResultMessage) => {
      const p = slot.pending.get(msg.id);
      if (!p) return;
      slot.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.body);
      else {
        // A code from another thread is only trusted if the catalogue has it.
        const { code, message } = msg.error;
        p.reject(isErrorCode(code) ? new AppError(code, message)
          : new AppError('INTERNAL_ERROR', `a worker answered with an unknown error: ${String(code)}: ${message}`.slice(0, 300)));
      }
    });
    const fail = (err: AppError) => {
      for (const p of slot.pending.values()) p.reject(err);
      slot.pending.clear();
      this.replace(slot, err);
    };
    worker.on('error', (err) => fail(this.opts.crashError(`worker failed: ${err.message}`)));
    worker.on('exit', (code) => fail(this.opts.crashError(`worker exited with code ${code}`)));
    return slot;
  }

  /** Puts a new worker in `slot`'s place (once: 'error' is followed by 'exit', a deadline by 'exit'). */
  private replace(slot: Slot, cause: AppError): void {
    const i = this.slots.indexOf(slot);
    if (i < 0 || this.closed) return;
    if (this.opts.respawn === false) {
      this.dead ??= cause;
      return;
    }
    this.slots[i] = this.spawn();
    this.release();
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
  }

  private send(slot: Slot, type: keyof P, body: unknown, run: RunOptions = {}): Promise<unknown> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => { if (timer) clearTimeout(timer); };
      slot.pending.set(id, { resolve: (r) => { done(); resolve(r); }, reject: (e) => { done(); reject(e); } });
      if (run.deadlineMs !== undefined) {
        timer = setTimeout(() => {
          const p = slot.pending.get(id);
          if (!p) return;
          slot.pending.delete(id);
          const err = run.timeoutError?.() ?? this.opts.crashError(`no answer within ${run.deadlineMs} ms`);
          p.reject(err);
          // The replacement starts now: termination stops a worker stuck in JavaScript at once, but one
          // inside a native call (libvips) exits only when that call returns, which may be never.
          this.replace(slot, err);
          void slot.worker.terminate();
        }, run.deadlineMs);
      }
      slot.worker.postMessage({ id, type, body } as TaskMessage<P>, run.transfer ?? []);
    });
  }

  /** Sends a task to every worker (start-up, warm-up); `body` may depend on the worker's index. */
  broadcast<K extends keyof P>(type: K, body: P[K]['request'] | ((index: number) => P[K]['request'])): Promise<Array<P[K]['reply']>> {
    if (this.closed) return Promise.reject(this.opts.closedError());
    return Promise.all(this.slots.map((s, i) => this.send(s, type, typeof body === 'function' ? (body as (i: number) => P[K]['request'])(i) : body))) as Promise<Array<P[K]['reply']>>;
  }

  /**
   * Runs a task on worker `index`, whether or not it is busy: for workers that hold state, whose caller
   * orders the tasks it sends each one.
   */
  runOn<K extends keyof P>(index: number, type: K, body: P[K]['request'], opts: RunOptions = {}): Promise<P[K]['reply']> {
    if (this.closed) return Promise.reject(this.opts.closedError());
    return this.send(this.slots[index], type, body, opts) as Promise<P[K]['reply']>;
  }

  /** Runs a task on an idle worker, waiting for one if all are busy. */
  async run<K extends keyof P>(type: K, body: P[K]['request'], opts: RunOptions = {}): Promise<P[K]['reply']> {
    if (this.closed) throw this.opts.closedError();
    let slot = this.slots.find((s) => !s.busy);
    if (!slot && this.waiting.length >= this.maxWaiting) {
      throw new AppError('QUEUE_FULL', `${this.waiting.length} tasks are already waiting for a worker; retry shortly`);
    }
    const waitUntil = opts.waitMs === undefined ? Infinity : performance.now() + opts.waitMs;
    while (!slot) {
      const woken = await new Promise<boolean>((resolve) => {
        const wake = () => { clearTimeout(timer); resolve(true); };
        const timer = waitUntil === Infinity ? undefined : setTimeout(() => {
          const i = this.waiting.indexOf(wake);
          if (i >= 0) this.waiting.splice(i, 1);
          resolve(false);
        }, Math.max(0, waitUntil - performance.now()));
        this.waiting.push(wake);
      });
      if (this.closed) throw this.opts.closedError();
      if (!woken) throw opts.waitError?.() ?? new AppError('REQUEST_TIMEOUT', `no worker was free within ${opts.waitMs} ms`);
      slot = this.slots.find((s) => !s.busy);
    }
    slot.busy = true;
    try {
      return await this.send(slot, type, body, opts) as P[K]['reply'];
    } finally {
      slot.busy = false;
      this.release();
    }
  }

  /** Stops the workers; tasks still waiting for one get the pool's closed error. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w();
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
