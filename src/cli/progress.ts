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
