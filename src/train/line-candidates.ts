import { NUM_CLASSES, PIXELS } from '../data/mnist';
import type { LineInputs } from '../image/preprocess';
import { argmaxRows } from '../metrics/classification';
import type { OnnxSession } from '../onnx/ort-session';
import { encodeUpload, stack } from '../uploads/evaluate-uploads';
import { renderNumberUpload } from '../uploads/numbers';
import { pickFromUploads } from './upload-crops';

/**
 * The candidates of a line that read its number digit by digit (each the digit of the label, by the
 * model's most probable answer), the likeliest such chain; undefined when none does. A skippable atom
 * may be left out.
 */
export function labelChain(line: Pick<LineInputs, 'atoms' | 'skippable' | 'candidates'>, digits: ArrayLike<number>, probabilities: ArrayLike<number>, label: string): number[] | undefined {
  const n = line.atoms, m = label.length;
  // best[a][p]: the likeliest reading of label[p..] from atom a on, and its first step.
  const best = Array.from({ length: n + 1 }, () => new Float64Array(m + 1).fill(-Infinity));
  const next = Array.from({ length: n + 1 }, () => new Int32Array(m + 1).fill(-2));
  best[n][m] = 0;
  for (let a = n - 1; a >= 0; a--) {
    for (let p = m; p >= 0; p--) {
      if (line.skippable[a] && best[a + 1][p] > best[a][p]) { best[a][p] = best[a + 1][p]; next[a][p] = -1; }
      if (p === m) continue;
      line.candidates.forEach((c, k) => {
        if (c.start !== a || digits[k] !== Number(label[p])) return;
        const s = Math.log(Math.max(1e-9, probabilities[k])) + best[c.end][p + 1];
        if (s > best[a][p]) { best[a][p] = s; next[a][p] = k; }
      });
    }
  }
  if (best[0][0] === -Infinity) return undefined;
  const chain: number[] = [];
  for (let a = 0, p = 0; a < n || p < m;) {
    const k = next[a][p];
    if (k === -1) { a++; continue; }
    chain.push(k);
    a = line.candidates[k].end;
    p++;
  }
  return chain;
}

/**
 * Line candidates of numbers written with training digits (seed `seed`, `perKind` with gaps and as
 * many touching): where the model reads the number digit by digit, each candidate of that chain is one
 * digit, and the candidate that joins two neighbours of the chain (when there is one) two digits in one
 * box, as the reading weighs them (none when `perKind` is 0), with the two digits it holds (10·left + right). Page crops alone would miss how a wide
 * single digit looks there.
 */
export async function lineCandidates(session: OnnxSession, images: Uint8Array, labels: Uint8Array, seed: number, perKind: number,
  concurrency: number): Promise<{ singles: Float32Array; pairs: Float32Array; pairLabels: number[] }> {
  const jobs = (['gaps', 'touching'] as const).flatMap((kind) => Array.from({ length: perKind }, (_, i) => ({ kind, i })));
  const numberLabels: string[] = [];
  const lines = await pickFromUploads(jobs.length, concurrency, (k) => {
    const { label, upload } = renderNumberUpload(images, labels, jobs[k].kind, seed, jobs[k].i);
    numberLabels[k] = label;
    return encodeUpload(upload);
  }, (p, k) => (p.line ? [{ label: numberLabels[k], line: { ...p.line, inputs: Float32Array.from(p.line.inputs) } }] : []));
  const singles: Float32Array[] = [], pairs: Float32Array[] = [], pairLabels: number[] = [];
  for (const { label, line } of lines) {
    const out = await session.run(line.inputs, line.candidates.length);
    const digits = argmaxRows(out.probabilities);
    const chain = labelChain(line, digits, Array.from(digits, (d, c) => out.probabilities[c * NUM_CLASSES + d]), label);
    if (!chain) continue;
    const input = (c: number) => line.inputs.subarray(c * PIXELS, (c + 1) * PIXELS);
    for (const c of chain) singles.push(input(c));
    for (let i = 0; i + 1 < chain.length; i++) {
      const a = line.candidates[chain[i]], b = line.candidates[chain[i + 1]];
      if (a.end !== b.start) continue;
      const joined = line.candidates.findIndex((c) => c.start === a.start && c.end === b.end);
      if (joined >= 0) { pairs.push(input(joined)); pairLabels.push(Number(label[i]) * 10 + Number(label[i + 1])); }
    }
  }
  return { singles: stack(singles), pairs: stack(pairs), pairLabels };
}
