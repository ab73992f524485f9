import sharp from 'sharp';
import { IMAGE_SIZE } from '../data/mnist';
import type { UploadExample } from './evaluate-uploads';

const TILE = 112;
const LABEL = 30;

/** Text made safe inside an SVG label. */
export const escapeXml = (s: string) => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);

/**
 * A PNG with one column per example: the upload as sent (shrunk to fit), below it what the model saw
 * (input28, enlarged with hard pixels), and the condition, the true digit and the answer.
 */
export async function examplesPicture(examples: UploadExample[]): Promise<Buffer> {
  const width = examples.length * TILE;
  const height = LABEL + 2 * TILE;
  const layers: Array<{ input: Buffer; left: number; top: number }> = [];
  for (const [i, e] of examples.entries()) {
    const upload = await sharp(e.bytes).resize(TILE - 4, TILE - 4, { fit: 'contain', background: '#ffffff' }).flatten({ background: '#ffffff' }).png().toBuffer();
    layers.push({ input: upload, left: i * TILE + 2, top: LABEL + 2 });
    const seen = new Uint8Array(IMAGE_SIZE * IMAGE_SIZE);
    if (e.input28) for (let k = 0; k < seen.length; k++) seen[k] = Math.round(e.input28[k] * 255);
    const input = await sharp(seen, { raw: { width: IMAGE_SIZE, height: IMAGE_SIZE, channels: 1 } }).resize(TILE - 4, TILE - 4, { kernel: 'nearest' }).png().toBuffer();
    layers.push({ input, left: i * TILE + 2, top: LABEL + TILE + 2 });
    const answer = e.answer === 'IMAGE_NO_DIGIT' ? 'no digit' : e.answer;
    const text = `<svg width="${TILE}" height="${LABEL}"><text x="3" y="12" font-family="sans-serif" font-size="10">${escapeXml(e.condition)}</text>`
      + `<text x="3" y="26" font-family="sans-serif" font-size="11" fill="${e.right ? '#106010' : '#b01010'}">${e.label ?? '–'} → ${escapeXml(answer)}</text></svg>`;
    layers.push({ input: Buffer.from(text), left: i * TILE, top: 0 });
  }
  return sharp({ create: { width, height, channels: 3, background: '#f4f4f4' } }).composite(layers).png().toBuffer();
}
