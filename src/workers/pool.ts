import { Worker } from 'node:worker_threads';
import { AppError, isErrorCode } from '../errors';
import type { Protocol, ReadyMessage, ResultMessage, TaskMessage } from './protocol';

export { workerScript } from './script';

interface Pending { resolve: (r: unknown) => void; reject: (e: Error) => void }
interface Slot { worker: Worker; busy: boolean; pending: Map<number, Pending>; ready: Promise<void>; inFlight: Set<Promise<unknown>> }
/** A task waiting for a worker: `give` hands it one (marked busy for it), or undefined when the pool closes. */
interface Waiter { owner: string | undefined; heavy: boolean; give: (slot: Slot | undefined) => void }
/** Worker time an owner has used lately: ms, decayed with USAGE_HALF_LIFE_MS. */
interface Usage { busy: number; ms: number; at: number }

/** How fast an owner's past use of the workers is forgiven when choosing whom to serve next. */
const USAGE_HALF_LIFE_MS = 10_000;
/** How long close() lets a worker finish loading and the tasks it has in hand, by default (settleWaitMs). */
const SETTLE_WAIT_MS = 5_000;

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
  /** Workers started beside the pool and kept idle, so a replaced worker's place is taken at once (default 0). */
  spares?: number;
  /** Workers one owner (RunOptions.owner) may hold at once; the others stay for everyone else (default: no bound). */
  maxPerOwner?: number;
  /** Workers heavy tasks (RunOptions.heavy) may hold at once, whoever they are for (default: no bound). */
  maxHeavy?: number;
  /**
   * ms close() waits for a worker to finish starting and the tasks it has in hand before terminating it
   * anyway (default 5 s; Infinity: until they end). A thread stopped inside a native addon's
   * asynchronous work (onnxruntime creating a session) aborts the whole process when the addon calls
   * back into it, so workers whose tasks always end should be waited for; a bound is for workers whose
   * tasks may hang (decoders).
   */
  settleWaitMs?: number;
}

export interface RunOptions {
  /** Buffers moved to the worker instead of copied. */
  transfer?: ArrayBuffer[];
  /** ms the task may wait for a free worker; past it the task gets `waitError` (REQUEST_TIMEOUT by default). */
  waitMs?: number;
  waitError?: () => AppError;
  /**
   * Who the task is for (a client): an owner holds at most maxPerOwner workers, and when a worker frees
   * up, the waiting task of the owner that has used the workers least lately goes first. Tasks without
   * an owner (the command line's own files) are not bounded.
   */
  owner?: string;
  /** An expensive task: at most maxHeavy of them run at once, and at most half of maxWaiting wait. */
  heavy?: boolean;
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
  private readonly spares: Slot[] = [];
  private readonly waiting: Waiter[] = [];
  private readonly usage = new Map<string, Usage>();
  private heavyBusy = 0;
  private nextId = 1;
  private closed = false;
  private dead: AppError | undefined;
  private readonly maxWaiting: number;
  /** Workers started in all, replacements included: a test sees a crash's replacement here. */
  spawned = 0;

  constructor(private readonly script: { path: string; execArgv: string[] }, private readonly opts: WorkerPoolOptions<D>) {
    this.maxWaiting = opts.maxWaiting ?? Infinity;
    for (let i = 0; i < opts.size; i++) this.slots.push(this.spawn());
    for (let i = 0; i < (opts.spares ?? 0); i++) this.spares.push(this.spawn());
  }

  get size(): number { return this.slots.length; }
  /** Thread ids of the working and the spare workers: a test sees a spare take a replaced worker's place. */
  get threadIds(): { working: number[]; spares: number[] } {
    return { working: this.slots.map((s) => s.worker.threadId), spares: this.spares.map((s) => s.worker.threadId) };
  }

  private spawn(): Slot {
    const worker = new Worker(this.script.path, { execArgv: this.script.execArgv, workerData: this.opts.workerData });
    this.spawned++;
    let markReady = () => {};
    const slot: Slot = { worker, busy: false, pending: new Map(), ready: new Promise((r) => { markReady = r; }), inFlight: new Set() };
    worker.once('exit', () => markReady());
    worker.on('message', (msg: ResultMessage | ReadyMessage) => {
      if ('ready' in msg) return markReady();
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

  /**
   * Puts a spare, or a new worker, in `slot`'s place (once: 'error' is followed by 'exit', a deadline by
   * 'exit'); a spare that died is replaced by a new spare.
   */
  private replace(slot: Slot, cause: AppError): void {
    if (this.closed) return;
    const spare = this.spares.indexOf(slot);
    if (spare >= 0) {
      this.spares[spare] = this.spawn();
      return;
    }
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    if (this.opts.respawn === false) {
      this.dead ??= cause;
      return;
    }
    const ready = this.spares.shift();
    this.slots[i] = ready ?? this.spawn();
    if (ready) this.spares.push(this.spawn());
    this.dispatch();
  }

  private usageOf(owner: string): Usage {
    let u = this.usage.get(owner);
    if (!u) this.usage.set(owner, u = { busy: 0, ms: 0, at: performance.now() });
    return u;
  }

  private recentMs(u: Usage, now: number): number {
    return u.ms * 0.5 ** ((now - u.at) / USAGE_HALF_LIFE_MS);
  }

  /** Whether a task for `owner` may take one more worker (tasks without an owner are not bounded per owner). */
  private underBound(owner: string | undefined, heavy: boolean): boolean {
    if (heavy && this.heavyBusy >= (this.opts.maxHeavy ?? Infinity)) return false;
    return owner === undefined || this.usageOf(owner).busy < (this.opts.maxPerOwner ?? Infinity);
  }

  /** A free worker for the task (taken: marked busy and counted), if one is free and the task is under its bounds. */
  private take(owner: string | undefined, heavy: boolean): Slot | undefined {
    if (!this.underBound(owner, heavy)) return undefined;
    const slot = this.slots.find((s) => !s.busy);
    if (!slot) return undefined;
    slot.busy = true;
    this.usageOf(owner ?? '').busy++;
    if (heavy) this.heavyBusy++;
    return slot;
  }

  /** Hands free workers to waiting tasks: among owners under their bound, the least-served lately first, then in order. */
  private dispatch(): void {
    while (this.waiting.length > 0 && this.slots.some((s) => !s.busy)) {
      const now = performance.now();
      let best = -1;
      let bestMs = Infinity;
      for (let i = 0; i < this.waiting.length; i++) {
        if (!this.underBound(this.waiting[i].owner, this.waiting[i].heavy)) continue;
        const ms = this.recentMs(this.usageOf(this.waiting[i].owner ?? ''), now);
        if (ms < bestMs) { best = i; bestMs = ms; }
      }
      if (best < 0) return;
      const [w] = this.waiting.splice(best, 1);
      w.give(this.take(w.owner, w.heavy));
    }
  }

  /** Records a finished task's time against its owner and forgets owners with nothing left to remember. */
  private finished(owner: string, ms: number): void {
    const u = this.usageOf(owner);
    const now = performance.now();
    u.ms = this.recentMs(u, now) + ms;
    u.at = now;
    u.busy--;
    if (this.usage.size > 1000) {
      for (const [k, v] of this.usage) if (v.busy === 0 && this.recentMs(v, now) < 1) this.usage.delete(k);
    }
  }

  private send(slot: Slot, type: keyof P, body: unknown, run: RunOptions = {}): Promise<unknown> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    const task = new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => { if (timer) clearTimeout(timer); };
      slot.pending.set(id, { resolve: (r) => { done(); resolve(r); }, reject: (e) => { done(); reject(e); } });
      // The deadline is the task's own: it starts once the worker is up. A worker still loading its
      // modules (sharp, on a busy machine: seconds) has not begun the task, and stopping it then
      // refused good pictures and started another slow worker in its place.
      if (run.deadlineMs !== undefined) {
        void slot.ready.then(() => {
          if (!slot.pending.has(id)) return;
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
        });
      }
      slot.worker.postMessage({ id, type, body } as TaskMessage<P>, run.transfer ?? []);
    });
    slot.inFlight.add(task);
    const forget = () => { slot.inFlight.delete(task); };
    task.then(forget, forget);
    return task;
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

  /** Runs a task on an idle worker, waiting for one if all are busy (or its owner holds its share). */
  async run<K extends keyof P>(type: K, body: P[K]['request'], opts: RunOptions = {}): Promise<P[K]['reply']> {
    if (this.closed) throw this.opts.closedError();
    const owner = opts.owner;
    const heavy = opts.heavy === true;
    let slot = this.take(owner, heavy);
    if (!slot) {
      if (this.waiting.length >= this.maxWaiting) {
        throw new AppError('QUEUE_FULL', `${this.waiting.length} tasks are already waiting for a worker; retry shortly`);
      }
      // Heavy tasks may fill half the queue: the other half stays for everyone else's ordinary ones.
      if (heavy && this.waiting.filter((w) => w.heavy).length >= Math.ceil(this.maxWaiting / 2)) {
        throw new AppError('QUEUE_FULL', 'too many expensive images are waiting for a worker; retry shortly');
      }
      let timedOut = false;
      slot = await new Promise<Slot | undefined>((resolve) => {
        const w: Waiter = { owner, heavy, give: (s) => { clearTimeout(timer); resolve(s); } };
        const timer = opts.waitMs === undefined ? undefined : setTimeout(() => {
          const i = this.waiting.indexOf(w);
          if (i >= 0) this.waiting.splice(i, 1);
          timedOut = true;
          resolve(undefined);
        }, opts.waitMs);
        this.waiting.push(w);
      });
      if (!slot) {
        if (timedOut) throw opts.waitError?.() ?? new AppError('REQUEST_TIMEOUT', `no worker was free within ${opts.waitMs} ms`);
        throw this.opts.closedError();
      }
    }
    const started = performance.now();
    try {
      return await this.send(slot, type, body, opts) as P[K]['reply'];
    } finally {
      slot.busy = false;
      if (heavy) this.heavyBusy--;
      this.finished(owner ?? '', performance.now() - started);
      this.dispatch();
    }
  }

  /** Stops the workers; tasks still waiting for one get the pool's closed error. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.give(undefined);
    // A worker still starting, or with a task in hand (a model loading), finishes it first (settleWaitMs).
    await Promise.all([...this.slots, ...this.spares].map(async (s) => {
      const settled = Promise.allSettled([s.ready, ...s.inFlight]);
      const wait = this.opts.settleWaitMs ?? SETTLE_WAIT_MS;
      let timer: NodeJS.Timeout | undefined;
      await (wait === Infinity ? settled : Promise.race([settled, new Promise((r) => { timer = setTimeout(r, wait); })]));
      clearTimeout(timer);
      await s.worker.terminate();
    }));
  }
}
