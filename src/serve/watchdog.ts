import { Worker } from 'node:worker_threads';

/**
 * The watchdog's own thread. It cannot rely on the event loop it watches: the main thread stamps the time
 * into shared memory every STAMP_MS, and this thread checks the stamp. A stamp older than the limit means
 * the HTTP thread is stuck (a handler in an endless loop): it then says so on stderr and kills the
 * process with SIGKILL. SIGTERM would need the blocked event loop to run its handler; SIGKILL does not, and
 * the supervisor (systemd, Kubernetes, a container runtime) restarts the server.
 */
const WATCHER = `
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const stamp = new Float64Array(workerData.shared);
setInterval(() => {
  const stuck = Date.now() - stamp[0];
  if (stuck > workerData.limitMs) {
    writeSync(2, JSON.stringify({ level: 60, time: Date.now(), msg: 'watchdog: the HTTP thread has been blocked for ' + stuck + ' ms; killing the process so it is restarted' }) + '\\n');
    process.kill(process.pid, 'SIGKILL');
  }
}, Math.min(1000, workerData.limitMs / 4));
`;

/** How often the main thread proves it is alive. */
const STAMP_MS = 250;

/**
 * Starts watching the calling thread's event loop; returns the function that stops watching.
 * @example const stop = startWatchdog(15_000); // a loop blocked for 15 s ends the process
 */
export function startWatchdog(limitMs: number): () => void {
  const shared = new SharedArrayBuffer(8);
  const stamp = new Float64Array(shared);
  stamp[0] = Date.now();
  const timer = setInterval(() => { stamp[0] = Date.now(); }, STAMP_MS).unref();
  const worker = new Worker(WATCHER, { eval: true, workerData: { shared, limitMs } });
  worker.unref();
  return () => {
    clearInterval(timer);
    void worker.terminate();
  };
}
