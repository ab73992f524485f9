import { Worker } from 'node:worker_threads';
import { getPriority } from 'node:os';
import { join } from 'node:path';
import { lowerThreadPriority } from '../../src/workers/thread-priority';

const linux = process.platform === 'linux';

describe('lowerThreadPriority', () => {
  (linux ? it : it.skip)('lowers only the calling thread (a worker), not the process', async () => {
    const before = getPriority();
    // A worker calling the TypeScript helper through ts-node, as the pools' workers run under jest.
    const helper = join(__dirname, '..', '..', 'src', 'workers', 'thread-priority.ts');
    const code = `
      const { parentPort } = require('node:worker_threads');
      const { readlinkSync } = require('node:fs');
      const { getPriority } = require('node:os');
      const { lowerThreadPriority } = require(${JSON.stringify(helper)});
      const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
      const ok = lowerThreadPriority(5);
      parentPort.postMessage({ ok, nice: getPriority(tid) });`;
    const reply = await new Promise<{ ok: boolean; nice: number }>((resolve, reject) => {
      const w = new Worker(code, { eval: true, execArgv: ['-r', 'ts-node/register/transpile-only'] });
      w.once('message', (m) => { resolve(m); void w.terminate(); });
      w.once('error', reject);
    });
    expect(reply.ok).toBe(true);
    expect(reply.nice).toBe(Math.min(19, before + 5));
    expect(getPriority()).toBe(before); // the main thread keeps its priority
  });

  it('does nothing for 0', () => {
    expect(lowerThreadPriority(0)).toBe(false);
  });
});
