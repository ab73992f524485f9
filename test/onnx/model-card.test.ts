import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileSha256, ModelCard, updateCardForDigitScore } from '../../src/onnx/model-card';

const FIT = { features: 'fc1/out', fit: { digits: 100, nonDigits: 50 }, validation: { digits: 40, refusedDigits: 1, marks: 20, refusedMarks: 15 }, lineShare: 0.001 };

describe('updateCardForDigitScore', () => {
  it('brings the card describing the file up to date (sha256, size, the output, the fit) and writes MODEL_CARD.md', () => {
    const dir = mkdtempSync(join(tmpdir(), 'card-'));
    const card = JSON.parse(readFileSync('artifacts/model-card.json', 'utf8')) as ModelCard;
    const { digitScore: _old, ...withoutHead } = card;
    writeFileSync(join(dir, 'model-card.json'), JSON.stringify({ ...withoutHead, file: 'm.onnx', outputs: card.outputs.filter((o) => o.name !== 'digit_score') }));
    writeFileSync(join(dir, 'm.onnx'), 'not really a model');
    expect(updateCardForDigitScore(join(dir, 'model-card.json'), join(dir, 'm.onnx'), FIT)).toBe(true);
    const updated = JSON.parse(readFileSync(join(dir, 'model-card.json'), 'utf8')) as ModelCard;
    expect(updated).toMatchObject({ sha256: fileSha256(join(dir, 'm.onnx')), bytes: 18, digitScore: FIT });
    expect(updated.outputs.map((o) => o.name)).toEqual([...card.outputs.map((o) => o.name).filter((n) => n !== 'digit_score'), 'digit_score']);
    const md = readFileSync(join(dir, 'MODEL_CARD.md'), 'utf8');
    expect(md).toMatch(/\*\*Digit score\.\*\*.*fitted \(`make fit-digit-score`\) on 100 digits\s+and 50 photos/s);
    expect(md).toMatch(/1 of 40 digits and 15 of 20 marks below the line/);
  });

  it('leaves a card alone that describes another file, and reports a missing one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'card-'));
    copyFileSync('artifacts/model-card.json', join(dir, 'model-card.json'));
    writeFileSync(join(dir, 'other.onnx'), 'x');
    const before = readFileSync(join(dir, 'model-card.json'), 'utf8');
    expect(updateCardForDigitScore(join(dir, 'model-card.json'), join(dir, 'other.onnx'), FIT)).toBe(false);
    expect(readFileSync(join(dir, 'model-card.json'), 'utf8')).toBe(before);
    expect(updateCardForDigitScore(join(dir, 'none.json'), join(dir, 'other.onnx'), FIT)).toBe(false);
  });
});
