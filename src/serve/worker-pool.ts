import { Worker } from 'node:worker_threads';
import { AppError, isErrorCode } from '../errors';

/** A task sent to a pool worker: `id` is filled in by the pool. */
export interface WorkerRequest { type: string; [key: string]: unknown }
export interface WorkerReply { id: number; ok: boolean; error?: { code?: string; message: string }; [key: string]: unknown }

interface Pending { resolve: (r: WorkerReply) => void; reject: (e: Error) => void }
interface Slot { worker: Worker; busy: boolean; pending: Map<number, Pending> }

export { workerScript } from '../worker-script';

export interface WorkerPoolOptions {
  size: number; // worker threads
  workerData: unknown; // passed to every worker, replacements included
  maxWaiting?: number; // tasks that may wait for a worker before run() refuses with QUEUE_FULL (default: no bound)
  /** The error a task gets when its worker dies under it (the worker is replaced either way). */
  crashError: (message: string) => AppError;
}

export interface RunOptions {
  /** ms the task may wait for a free worker; past it the task gets `waitError` (REQUEST_TIMEOUT by default). */
  waitMs?: number;
  waitError?: () => AppError;
  /** ms the task may run; past it the worker is terminated and replaced and the task gets `timeoutError`. */
  deadlineMs?: number;
  timeoutError?: () => AppError;
}

/**
 * A fixed set of worker threads, one task at a time each. `run` picks an idle worker or waits for one.
 * A worker that dies, or overruns a task's deadline, fails its task and is replaced, so one bad task
 * cannot take the pool down or shrink it.
 */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly waiting: Array<() => void> = [];
  private nextId = 1;
  private closed = false;
  private readonly maxWaiting: number;

  constructor(private readonly script: { path: string; execArgv: string[] }, private readonly opts: WorkerPoolOptions) {
    this.maxWaiting = opts.maxWaiting ?? Infinity;
    for (let i = 0; i < opts.size; i++) this.slots.push(this.spawn());
  }

  get size(): number { return this.slots.length; }
  get idle(): number { return this.slots.filter((s) => !s.busy).length; }
  /** Workers started in all, replacements included: a test sees a crash's replacement here. */
  spawned = 0;

  private spawn(): Slot {
    const worker = new Worker(this.script.path, { execArgv: this.script.execArgv, workerData: this.opts.workerData });
    this.spawned++;
    const slot: Slot = { worker, busy: false, pending: new Map() };
    worker.on('message', (reply: WorkerReply) => {
      const p = slot.pending.get(reply.id);
      if (!p) return;
      slot.pending.delete(reply.id);
      p.resolve(reply);
    });
    const fail = (err: Error) => {
      for (const p of slot.pending.values()) p.reject(err);
      slot.pending.clear();
      this.replace(slot);
    };
    worker.on('error', (err) => fail(this.opts.crashError(`worker failed: ${err.message}`)));
    worker.on('exit', (code) => fail(this.opts.crashError(`worker exited with code ${code}`)));
    return slot;
  }

  /** Puts a new worker in `slot`'s place (once: 'error' is followed by 'exit', a deadline by 'exit'). */
  private replace(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    if (i < 0 || this.closed) return;
    this.slots[i] = this.spawn();
    this.release();
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
  }

  /** Sends a request to every worker (start-up, warm-up); resolves when all have answered. */
  broadcast(req: WorkerRequest): Promise<WorkerReply[]> {
    return Promise.all(this.slots.map((s) => this.send(s, req)));
  }

  private send(slot: Slot, req: WorkerRequest, transfer: ArrayBuffer[] = [], run: RunOptions = {}): Promise<WorkerReply> {
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
          p.reject(run.timeoutError?.() ?? this.opts.crashError(`no answer within ${run.deadlineMs} ms`));
          // The replacement starts now: termination stops a worker stuck in JavaScript at once, but one
          // inside a native call (libvips) exits only when that call returns, which may be never.
          this.replace(slot);
          void slot.worker.terminate();
        }, run.deadlineMs);
      }
      slot.worker.postMessage({ ...req, id }, transfer);
    });
  }

  /** Runs one request on an idle worker, waiting for one if all are busy. */
  async run(req: WorkerRequest, transfer: ArrayBuffer[] = [], opts: RunOptions = {}): Promise<WorkerReply> {
    if (this.closed) throw new AppError('SERVER_DRAINING', 'the server is shutting down');
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
      if (this.closed) throw new AppError('SERVER_DRAINING', 'the server is shutting down');
      if (!woken) throw opts.waitError?.() ?? new AppError('REQUEST_TIMEOUT', `no worker was free within ${opts.waitMs} ms`);
      slot = this.slots.find((s) => !s.busy);
    }
    slot.busy = true;
    try {
      const reply = await this.send(slot, req, transfer, opts);
      if (!reply.ok) {
        const code = reply.error?.code;
        // A code from another thread is only trusted if the catalogue has it.
        throw isErrorCode(code) ? new AppError(code, reply.error?.message ?? 'worker task failed')
          : new AppError('INTERNAL_ERROR', `a worker answered with an unknown error: ${String(code)}: ${reply.error?.message ?? ''}`.slice(0, 300));
      }
      return reply;
    } finally {
      slot.busy = false;
      this.release();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w();
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
