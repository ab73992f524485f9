import { Worker } from 'node:worker_threads';
import { AppError } from '../errors';

/** A task sent to a pool worker: `id` is filled in by the pool. */
export interface WorkerRequest { type: string; [key: string]: unknown }
export interface WorkerReply { id: number; ok: boolean; error?: { code?: string; message: string }; [key: string]: unknown }

interface Slot { worker: Worker; busy: boolean; pending: Map<number, { resolve: (r: WorkerReply) => void; reject: (e: Error) => void }> }

export { workerScript } from '../worker-script';

/**
 * A fixed set of worker threads, one task at a time each. `run` picks an idle worker or waits for one.
 * A worker that dies fails its task and is replaced, so one bad task cannot take the pool down.
 */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly waiting: Array<() => void> = [];
  private nextId = 1;
  private closed = false;

  /** `maxWaiting`: tasks that may wait for a worker before run() refuses with QUEUE_FULL. */
  constructor(private readonly script: { path: string; execArgv: string[] }, size: number, private readonly workerData: unknown,
    private readonly maxWaiting = Infinity) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  get size(): number { return this.slots.length; }
  get idle(): number { return this.slots.filter((s) => !s.busy).length; }

  private spawn(): Slot {
    const worker = new Worker(this.script.path, { execArgv: this.script.execArgv, workerData: this.workerData });
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
      if (this.closed) return;
      const i = this.slots.indexOf(slot);
      if (i >= 0) {
        this.slots[i] = this.spawn();
        this.release();
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new AppError('INFERENCE_FAILED', `worker exited with code ${code}`)));
    return slot;
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
  }

  /** Sends a request to every worker (start-up, warm-up); resolves when all have answered. */
  broadcast(req: WorkerRequest): Promise<WorkerReply[]> {
    return Promise.all(this.slots.map((s) => this.send(s, req)));
  }

  private send(slot: Slot, req: WorkerRequest, transfer: ArrayBuffer[] = []): Promise<WorkerReply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ ...req, id }, transfer);
    });
  }

  /** Runs one request on an idle worker, waiting for one if all are busy. */
  async run(req: WorkerRequest, transfer: ArrayBuffer[] = []): Promise<WorkerReply> {
    if (this.closed) throw new AppError('SERVER_DRAINING', 'the worker pool is closed');
    let slot = this.slots.find((s) => !s.busy);
    if (!slot && this.waiting.length >= this.maxWaiting) {
      throw new AppError('QUEUE_FULL', `${this.waiting.length} tasks are already waiting for a worker; retry shortly`);
    }
    while (!slot) {
      await new Promise<void>((r) => this.waiting.push(r));
      slot = this.slots.find((s) => !s.busy);
    }
    slot.busy = true;
    try {
      const reply = await this.send(slot, req, transfer);
      if (!reply.ok) {
        const code = (reply.error?.code ?? 'INFERENCE_FAILED') as ConstructorParameters<typeof AppError>[0];
        throw new AppError(code, reply.error?.message ?? 'worker task failed');
      }
      return reply;
    } finally {
      slot.busy = false;
      this.release();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
