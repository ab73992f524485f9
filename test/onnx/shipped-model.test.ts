import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileSha256, ModelCard } from '../../src/onnx/model-card';
import { DIGIT_SCORE_OUTPUT, digitScoreInfo, PAIR_SCORE_HEAD, PAIR_SCORE_OUTPUT, scoreHeadInfo } from '../../src/onnx/digit-score';
import { evaluateOnnxLogits } from '../../src/onnx/evaluate-onnx';
import { PAIR_DIGITS_OUTPUT } from '../../src/onnx/pair-digits';
import { evaluateLogits } from '../../src/metrics/classification';
import { loadMnist } from '../../src/data/mnist';

/**
 * The floor any shipped model must reach whatever its card says, so a worse model with a regenerated
 * card fails too: accuracy on the 10k MNIST test images and the calibration error of its probabilities.
 */
const SHIPPED_FLOOR = { accuracy: 0.995, ece: 0.01 };

/** Model regression: the committed model is the one its card describes, and still as accurate. */
describe('shipped model (artifacts/)', () => {
  const cardPath = join('artifacts', 'model-card.json');
  const card = existsSync(cardPath) ? (JSON.parse(readFileSync(cardPath, 'utf8')) as ModelCard) : undefined;

  it('has a model card naming a committed file', () => {
    expect(card).toBeDefined();
    expect(existsSync(join('artifacts', card!.file))).toBe(true);
  });

  it("matches the card's sha256 and size", () => {
    const path = join('artifacts', card!.file);
    expect(fileSha256(path)).toBe(card!.sha256);
    expect(readFileSync(path).length).toBe(card!.bytes);
  });

  it("reaches the card's test accuracy (− 0.0005) and the fixed floor on the full 10k test set through onnxruntime", async () => {
    const { test } = await loadMnist();
    const ev = evaluateLogits(await evaluateOnnxLogits(join('artifacts', card!.file), test), Array.from(test.labels), card!.temperature);
    console.log(`shipped model: ${(ev.accuracy * 100).toFixed(2)}% on ${ev.count} test images (card: ${(card!.testAccuracy * 100).toFixed(2)}%), ECE ${ev.ece.toFixed(4)}`);
    expect(ev.count).toBe(10000);
    expect(ev.accuracy).toBeGreaterThanOrEqual(card!.testAccuracy - 0.0005);
    expect(ev.accuracy).toBeGreaterThanOrEqual(SHIPPED_FLOOR.accuracy);
    expect(ev.ece).toBeLessThanOrEqual(SHIPPED_FLOOR.ece); // of the calibrated probabilities (the card's temperature)
  }, 300_000);

  it('has the digit-score head its card describes', () => {
    const info = digitScoreInfo(readFileSync(join('artifacts', card!.file)));
    expect(info).toMatchObject({ line: 0.5, features: card!.digitScore!.features, fit: card!.digitScore!.fit, validation: card!.digitScore!.validation });
    expect(card!.outputs.map((o) => o.name)).toContain(DIGIT_SCORE_OUTPUT);
  });

  it('has the pair-score head its card describes', () => {
    const info = scoreHeadInfo(readFileSync(join('artifacts', card!.file)), PAIR_SCORE_HEAD);
    expect(info).toMatchObject({ line: 0.5, fit: card!.pairScore!.fit, validation: card!.pairScore!.validation });
    expect(card!.outputs.map((o) => o.name)).toContain(PAIR_SCORE_OUTPUT);
  });

  it('has the pair reader its card describes', () => {
    const info = scoreHeadInfo(readFileSync(join('artifacts', card!.file)), { output: PAIR_DIGITS_OUTPUT });
    expect(info).toMatchObject({ fit: card!.pairDigits!.fit, validation: card!.pairDigits!.validation });
    expect(card!.outputs.map((o) => o.name)).toContain(PAIR_DIGITS_OUTPUT);
  });
});
