import { join } from 'node:path';
import { AppError } from '../../src/errors';
import { WorkerPool } from '../../src/workers/pool';

type Empty = Record<string, never>;
type Misbehaving = {
  loop: { request: Empty; reply: Empty };
  exit: { request: Empty; reply: Empty };
  'known-code': { request: Empty; reply: Empty };
  'unknown-code': { request: Empty; reply: Empty };
  echo: { request: { value?: unknown }; reply: { echo: unknown; threadId: number } };
  hold: { request: { value?: unknown; ms: number }; reply: { echo: unknown; threadId: number } };
};

const script = { path: join(__dirname, '..', 'fixtures', 'workers', 'misbehaving-worker.js'), execArgv: [] };
const crashError = (m: string) => new AppError('IMAGE_UNDECODABLE', `crashed: ${m}`);
const closedError = () => new AppError('SERVER_DRAINING', 'closed');

describe('WorkerPool', () => {
  let pool: WorkerPool<Misbehaving>;
  beforeEach(() => { pool = new WorkerPool<Misbehaving>(script, { size: 2, workerData: {}, crashError, closedError }); });
  afterEach(() => pool.close());

  it('stops a task past its deadline with the given error, replaces the worker, and stays at full size', async () => {
    await expect(pool.run('loop', {}, { deadlineMs: 200, timeoutError: () => new AppError('IMAGE_UNDECODABLE', 'took too long') }))
      .rejects.toMatchObject({ code: 'IMAGE_UNDECODABLE', message: expect.stringMatching(/too long/) });
    expect(pool.size).toBe(2);
    expect(pool.spawned).toBe(3);
    // Both workers answer afterwards (the replacement included).
    const replies = await Promise.all([1, 2, 3, 4].map((value) => pool.run('echo', { value })));
    expect(replies.map((r) => r.echo)).toEqual([1, 2, 3, 4]);
  });

  it('counts a task\'s deadline from when its worker is up, not while the worker is still starting', async () => {
    const slow = new WorkerPool<Misbehaving>(script, { size: 1, workerData: { startMs: 1_500 }, crashError, closedError });
    try {
      expect((await slow.run('echo', { value: 'first' }, { deadlineMs: 500 })).echo).toBe('first');
      expect(slow.spawned).toBe(1);
    } finally {
      await slow.close();
    }
  });

  it('answers a crash with the pool\'s crash error and respawns the worker', async () => {
    await expect(pool.run('exit', {})).rejects.toMatchObject({ code: 'IMAGE_UNDECODABLE', message: expect.stringMatching(/exited with code 3/) });
    expect(pool.size).toBe(2);
    expect((await pool.run('echo', { value: 'after' })).echo).toBe('after');
    expect(pool.spawned).toBe(3);
  });

  it('keeps catalogued error codes from a worker and maps unknown ones to INTERNAL_ERROR', async () => {
    await expect(pool.run('known-code', {})).rejects.toMatchObject({ code: 'IMAGE_UNDECODABLE', status: 422 });
    await expect(pool.run('unknown-code', {})).rejects.toMatchObject({ code: 'INTERNAL_ERROR', status: 500, message: expect.stringMatching(/NOT_IN_THE_CATALOGUE/) });
  });

  it('refuses with QUEUE_FULL past maxWaiting, and with SERVER_DRAINING once closed', async () => {
    const small = new WorkerPool<Misbehaving>(script, { size: 1, workerData: {}, crashError, closedError, maxWaiting: 1 });
    try {
      const running = small.run('loop', {}, { deadlineMs: 300 }).catch((e: AppError) => e.code);
      const waiting = small.run('echo', { value: 1 });
      await expect(small.run('echo', { value: 2 })).rejects.toMatchObject({ code: 'QUEUE_FULL' });
      expect(await running).toBe('IMAGE_UNDECODABLE');
      expect((await waiting).echo).toBe(1);
    } finally {
      await small.close();
    }
    await expect(small.run('echo', {})).rejects.toMatchObject({ code: 'SERVER_DRAINING' });
  });
});

describe('WorkerPool close', () => {
  it('lets a task in hand finish when settleWaitMs is Infinity (workers terminated inside native work abort the process)', async () => {
    const pool = new WorkerPool<Misbehaving>(script, { size: 1, workerData: {}, crashError, closedError, settleWaitMs: Infinity });
    // Longer than the default bound (5 s), which would have terminated it.
    const task = pool.run('hold', { value: 'finished', ms: 5_500 });
    await pool.close();
    expect((await task).echo).toBe('finished');
  });

  it('terminates a worker whose task in hand outlasts settleWaitMs, failing the task', async () => {
    const pool = new WorkerPool<Misbehaving>(script, { size: 1, workerData: {}, crashError, closedError, settleWaitMs: 20 });
    const task = pool.run('hold', { value: 'never', ms: 60_000 }).catch((e: AppError) => e.code);
    await pool.close();
    expect(await task).toBe('IMAGE_UNDECODABLE');
  });
});

describe('WorkerPool waiting', () => {
  it('answers REQUEST_TIMEOUT to a task that waited longer than waitMs for a worker, and leaves the queue clean', async () => {
    const pool = new WorkerPool<Misbehaving>(script, { size: 1, workerData: {}, crashError, closedError });
    try {
      let busyEnded = false;
      const busy = pool.run('loop', {}, { deadlineMs: 600 }).catch((e: AppError) => e.code).finally(() => { busyEnded = true; });
      await expect(pool.run('echo', { value: 1 }, { waitMs: 150 })).rejects.toMatchObject({ code: 'REQUEST_TIMEOUT', status: 504 });
      // The waiter gave up on its own timer, not because the busy worker was replaced (timers fire in order).
      expect(busyEnded).toBe(false);
      expect(await busy).toBe('IMAGE_UNDECODABLE');
      expect((await pool.run('echo', { value: 2 }, { waitMs: 5000 })).echo).toBe(2);
    } finally {
      await pool.close();
    }
  });
});

describe('WorkerPool addressing and state', () => {
  it('broadcast gives each worker its own body; runOn reaches the worker named', async () => {
    const pool = new WorkerPool<Misbehaving>(script, { size: 3, workerData: {}, crashError, closedError });
    try {
      const replies = await pool.broadcast('echo', (i) => ({ value: i * 10 }));
      expect(replies.map((r) => r.echo)).toEqual([0, 10, 20]);
      expect(replies.map((r) => r.threadId)).toEqual(pool.threadIds.working);
      expect(await pool.runOn(2, 'echo', { value: 'two' })).toEqual({ echo: 'two', threadId: pool.threadIds.working[2] });
    } finally {
      await pool.close();
    }
    await expect(pool.broadcast('echo', {})).rejects.toMatchObject({ code: 'SERVER_DRAINING' });
  });

  it('without respawn, a crash fails every later task (workers whose state cannot be rebuilt)', async () => {
    const pool = new WorkerPool<Misbehaving>(script, { size: 1, workerData: {}, crashError, closedError, respawn: false });
    try {
      await expect(pool.runOn(0, 'exit', {})).rejects.toMatchObject({ message: expect.stringMatching(/exited with code 3/) });
      await expect(pool.runOn(0, 'echo', { value: 1 })).rejects.toMatchObject({ message: expect.stringMatching(/exited with code 3/) });
      expect(pool.spawned).toBe(1);
    } finally {
      await pool.close();
    }
  });
});

describe('WorkerPool spares and owners', () => {
  it('puts a warm spare in a replaced worker\'s place at once, and starts a new spare', async () => {
    const pool = new WorkerPool<Misbehaving>(script, { size: 1, spares: 1, workerData: {}, crashError, closedError });
    try {
      await pool.run('echo', {}); // the spare has started by now too
      const before = pool.threadIds;
      await expect(pool.run('loop', {}, { deadlineMs: 100 })).rejects.toMatchObject({ code: 'IMAGE_UNDECODABLE' });
      const after = pool.threadIds;
      expect(after.working).toEqual(before.spares);
      expect(after.spares).toHaveLength(1);
      expect(after.spares[0]).not.toBe(before.working[0]);
      expect((await pool.run('echo', {})).threadId).toBe(before.spares[0]);
      expect(pool.spawned).toBe(3);
    } finally {
      await pool.close();
    }
  });

  it('lets one owner hold at most maxPerOwner workers, so another owner is served at once', async () => {
    const pool = new WorkerPool<Misbehaving>(script, { size: 2, maxPerOwner: 1, workerData: {}, crashError, closedError });
    try {
      const order: string[] = [];
      const a1 = pool.run('hold', { value: 'a1', ms: 300 }, { owner: 'a' }).then(() => order.push('a1'));
      const a2 = pool.run('hold', { value: 'a2', ms: 0 }, { owner: 'a' }).then(() => order.push('a2'));
      const b1 = pool.run('hold', { value: 'b1', ms: 0 }, { owner: 'b' }).then(() => order.push('b1'));
      await Promise.all([a1, a2, b1]);
      // a2 waited for a1 although a worker was free; b1 took that worker.
      expect(order).toEqual(['b1', 'a1', 'a2']);
    } finally {
      await pool.close();
    }
  });

  it('serves the waiting owner that has used the workers least lately first', async () => {
    const pool = new WorkerPool<Misbehaving>(script, { size: 1, workerData: {}, crashError, closedError });
    try {
      const order: string[] = [];
      const tasks = [
        pool.run('hold', { ms: 100 }, { owner: 'heavy' }).then(() => order.push('heavy-1')),
        pool.run('hold', { ms: 0 }, { owner: 'heavy' }).then(() => order.push('heavy-2')),
        pool.run('hold', { ms: 0 }, { owner: 'heavy' }).then(() => order.push('heavy-3')),
        pool.run('hold', { ms: 0 }, { owner: 'light' }).then(() => order.push('light-1')),
      ];
      await Promise.all(tasks);
      expect(order).toEqual(['heavy-1', 'light-1', 'heavy-2', 'heavy-3']);
    } finally {
      await pool.close();
    }
  });
});
