import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/**
 * Lowers the calling thread's scheduling priority by `nice` steps (Linux; elsewhere a no-op that
 * returns false). On Linux a nice value belongs to a thread, and threads it then creates inherit it
 * (onnxruntime's intra-op pool is made when the session opens, after this runs).
 *
 * Why: the inference workers share the cores with the HTTP thread. When they win, requests wait to be
 * parsed and answered, and /healthz waits behind them; niced, they take what the HTTP thread leaves.
 */
export function lowerThreadPriority(nice: number): boolean {
  if (process.platform !== 'linux' || nice <= 0) return false;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid)) return false;
    setPriority(tid, Math.min(19, getPriority(tid) + nice));
    return true;
  } catch {
    return false; // no /proc, or not allowed: run at the normal priority
  }
}
