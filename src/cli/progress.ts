import type { StepProgress } from '../train/trainer';

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
}

/**
 * A progress reporter: a redrawn bar on a terminal, a line every `every` steps otherwise (log files).
 */
export function createProgress(stream: NodeJS.WriteStream = process.stderr, every = 20): (p: StepProgress) => void {
  return (p) => {
    const width = 24;
    const filled = Math.round((p.step / p.stepsPerEpoch) * width);
    const line = `epoch ${p.epoch}/${p.epochs} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] step ${p.step}/${p.stepsPerEpoch}` +
      ` loss ${p.loss.toFixed(4)} acc ${(p.accuracy * 100).toFixed(1)}% ${p.imagesPerSecond.toFixed(1)} img/s ETA ${fmtTime(p.etaSeconds)}`;
    if (stream.isTTY) stream.write(`\r${line}\x1b[K${p.step === p.stepsPerEpoch ? '\n' : ''}`);
    else if (p.step % every === 0 || p.step === p.stepsPerEpoch) stream.write(`${new Date().toISOString()} ${line}\n`);
  };
}

/**
 * A progress line for a run over files on a terminal (files, failures, files/s, ETA when the total is
 * known), redrawn at most every 100 ms; nothing at all when `stream` is not a terminal.
 */
export function createFileProgress(stream: NodeJS.WriteStream = process.stderr, total?: number): { update(done: number, failed: number): void; end(): void } {
  const t0 = performance.now();
  let last = 0;
  let line = '';
  const draw = (done: number, failed: number) => {
    const s = (performance.now() - t0) / 1000;
    const rate = done / Math.max(s, 1e-3);
    const width = 24;
    const bar = total ? `[${'#'.repeat(Math.round((done / total) * width))}${'.'.repeat(width - Math.round((done / total) * width))}] ` : '';
    line = `${bar}${done}${total ? `/${total}` : ''} files, ${failed} failed, ${rate.toFixed(0)} files/s${total ? ` ETA ${fmtTime((total - done) / rate)}` : ''}`;
    stream.write(`\r${line}\x1b[K`);
  };
  return {
    update(done, failed) {
      if (!stream.isTTY) return;
      const now = performance.now();
      if (now - last < 100 && done !== total) return;
      last = now;
      draw(done, failed);
    },
    end() { if (stream.isTTY && line) stream.write('\n'); },
  };
}
