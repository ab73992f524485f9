import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { PAIR_DOUBT_LINE, READING_PRICES } from '../predictor/read-number';
import { DIGIT_SCORE_OUTPUT, PAIR_SCORE_OUTPUT } from './digit-score';
import { PAIR_DIGITS_OUTPUT } from './pair-digits';
import { ONNX_OPSET } from './graph-builder';

/** What `artifacts/model-card.json` holds; the server's /v1/model returns it. */
export interface ModelCard {
  name: string;
  modelVersion: string;
  file: string; // name inside artifacts/
  sha256: string;
  bytes: number;
  parameters: number; // of the tfjs model exported
  testAccuracy: number; // of this file, through onnxruntime, on the 10k test set
  fp32TestAccuracy: number;
  ece: number; // of this file's calibrated probabilities on the test set (15 bins)
  eceUncalibrated: number;
  temperature: number;
  quantizedLayers: string[];
  parity: { images: number; fp32MaxAbsProbDiff: number; int8MaxAbsProbDiff: number; int8ArgmaxAgreement: number };
  input: { name: string; shape: Array<string | number>; dtype: string; normalization: string };
  outputs: Array<{ name: string; shape: Array<string | number>; meaning: string }>;
  labels: string[];
  training: { command: string; seed: number; epochs: number; backend: string; workers?: number; wallSeconds: number; tfjsTestAccuracy: number };
  data: Record<string, string>;
  sourceCommit: string;
  date: string;
  /** The digit-score head's fit (make fit-digit-score), when the model has one. */
  digitScore?: { features: string; fit: { digits: number; lineDigits?: number; nonDigits: number }; validation: { digits: number; lineDigits?: number; refusedDigits: number; marks: number; refusedMarks: number }; lineShare: number };
  /** The pair-score head's fit (make fit-pair-score), when the model has one. */
  pairScore?: {
    fit: { digits: number; lineDigits?: number; marks: number; pairs: number; linePairs?: number };
    validation: { gate: number; mnistDigits: number; mnistDigitsAtLine: number; mnistDigitsAtGate: number; digitUploads: number; digitUploadsAtGate: number; marks: number; marksAtGate: number; pairs: number; pairsAtLine: number; pairsAtGate: number };
    lineShare: number;
  };
  /** The pair reader's fit (make fit-pair-digits), when the model has one. */
  pairDigits?: {
    fit: { composed: number; uploads: number; linePairs: number; notPairs: number };
    validation: { composed: number; composedAccuracy: number; uploads: number; uploadsAccuracy: number; notPairs: number; notPairsAccuracy: number };
  };
}

export function fileSha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function digitScoreParagraph(d: NonNullable<ModelCard['digitScore']>): string {
  return `**Digit score.** A second output, \`digit_score\` = sigmoid(relu(fc1 · w1 + b1) · w2 + b2): a small MLP (64
hidden units) on fc1's features, the network itself unchanged, fitted (\`make fit-digit-score\`) on ${d.fit.digits.toLocaleString('en-US')} digits${d.fit.lineDigits ? ` (${d.fit.lineDigits.toLocaleString('en-US')} of them cut out of lines of numbers)` : ''}
and ${d.fit.nonDigits.toLocaleString('en-US')} photos of marks that are not digits (letters, symbols, shapes, scribbles, textures: the tuned
families of \`docs/not-a-digit.md\`); its line, 0.5, placed where ${(100 * d.lineShare).toFixed(2)}% of the validation digits read right
fall below it${d.validation.lineDigits ? ` (${d.validation.lineDigits.toLocaleString('en-US')} of them cut out of lines)` : ''}. On validation data: ${d.validation.refusedDigits} of ${d.validation.digits.toLocaleString('en-US')} digits and ${d.validation.refusedMarks} of ${d.validation.marks} marks below the line.

`;
}

function pairDigitsParagraph(d: NonNullable<ModelCard['pairDigits']>): string {
  const v = d.validation, pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  return `**Pair reader.** A fourth output, \`pair_digits\` [N, 101]: which two digits ("00" to "99") a box of two digits run
together holds, or (the last) that it holds no pair; softmax(relu(fc1 · w1 + b1) · w2 + b2) on the same features,
fitted (\`make fit-pair-digits\`) on ${d.fit.composed.toLocaleString('en-US')} pairs of training digits composed in 28×28, ${d.fit.uploads.toLocaleString('en-US')} photos of two touching
digits and ${d.fit.linePairs.toLocaleString('en-US')} line candidates joining two neighbours, against ${d.fit.notPairs.toLocaleString('en-US')} single digits and non-digit marks. The
reading of a number may read a candidate character as such a pair. On validation data: ${pct(v.composedAccuracy)} of
${v.composed.toLocaleString('en-US')} composed pairs, ${pct(v.uploadsAccuracy)} of ${v.uploads.toLocaleString('en-US')} photos of touching pairs and ${pct(v.notPairsAccuracy)} of ${v.notPairs.toLocaleString('en-US')} photos of one digit or a mark read right.

`;
}

function pairScoreParagraph(d: NonNullable<ModelCard['pairScore']>): string {
  const v = d.validation;
  return `**Pair score.** A third output, \`pair_score\`, of the same form on the same features: how much the mark looks
like two digits run together into one (fitted, \`make fit-pair-score\`, on ${d.fit.digits.toLocaleString('en-US')} single digits${d.fit.lineDigits ? ` (${d.fit.lineDigits.toLocaleString('en-US')} of them cut out of lines of numbers)` : ''} and ${d.fit.marks.toLocaleString('en-US')} photos of non-digit marks against
${d.fit.pairs.toLocaleString('en-US')} photos of two digits in one box${d.fit.linePairs ? ` (${d.fit.linePairs.toLocaleString('en-US')} of them two neighbours of a line's reading)` : ''}). The reading of a number cuts a
lone mark into digits only when this score is at least ${v.gate} or the digit score refuses it, makes a candidate
character that scores ${READING_PRICES.pairLine} or more pay for it, and doubts a character over ${PAIR_DOUBT_LINE} in the number's probability. On validation data: ${v.mnistDigitsAtGate} of ${v.mnistDigits.toLocaleString('en-US')} MNIST digits, ${v.digitUploadsAtGate} of ${v.digitUploads} uploaded
digits and ${v.marksAtGate} of ${v.marks} marks at ${v.gate} or more; ${v.pairsAtGate} of ${v.pairs} touching pairs.

`;
}

/** A short human-readable card from the JSON one. */
export function modelCardMarkdown(card: ModelCard): string {
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  return `# Model card: ${card.name} ${card.modelVersion}

**What it is.** A convolutional network that reads one handwritten digit (a 28×28 grey image, light ink on a
dark background, as in MNIST) and returns the probability of each digit 0–9. Layers: conv1 (3×3, 32) →
two branches conv2_k (3×3, 64) → conv3_k (3×3, 256), k = 1, 2, both reading the pooled conv1 → conv3 (the
two joined, 7×7×512) → fc1 (1000) → fc2 (500) → output (10), ReLU and 2×2 max-pooling; ${card.parameters.toLocaleString('en-US')} parameters.

**File.** \`artifacts/${card.file}\` (${(card.bytes / 1e6).toFixed(1)} MB, sha256 \`${card.sha256.slice(0, 16)}…\`): ONNX opset ${ONNX_OPSET},
built by this project's exporter from the TensorFlow.js weights. ${card.quantizedLayers.join(' and ')} hold per-output-channel
symmetric int8 weights (activations quantized at run time per image, uint8 scaled by the row maximum, + MatMulInteger: an answer does not depend on the requests batched with it); the
convolutions and the output layer are fp32.

**How it was trained.** \`${card.training.command}\` (seed ${card.training.seed}), ${card.training.epochs} epochs on the
55,000 MNIST training images left after holding out 5,000 for validation (stratified), Adam with warm-up and
cosine decay, on-the-fly augmentation (shifts, rotations, scaling, stroke thickness, elastic distortions, and
fifteen kinds of picture damage: noise, blurs, fog, inverted bands, lines, outlines), dropout between the
dense layers, early stopping on validation loss; backend ${card.training.backend}, ${(card.training.wallSeconds / 60).toFixed(0)} minutes
${card.training.workers ? `with ${card.training.workers} replica worker threads` : 'on this project\'s 2-core machine'}. Probabilities are calibrated by temperature scaling fitted on the validation set
(T = ${card.temperature.toFixed(3)}).

**How well.** On the 10,000 MNIST test images, measured through onnxruntime: accuracy ${pct(card.testAccuracy)}
(the fp32 export: ${pct(card.fp32TestAccuracy)}; tfjs before export: ${pct(card.training.tfjsTestAccuracy)}); expected calibration
error ${card.ece.toFixed(4)} (${card.eceUncalibrated.toFixed(4)} without the temperature). Parity with tfjs on ${card.parity.images} images:
fp32 max |Δp| ${card.parity.fp32MaxAbsProbDiff.toExponential(1)}, int8 max |Δp| ${card.parity.int8MaxAbsProbDiff.toExponential(1)} with ${pct(card.parity.int8ArgmaxAgreement)} argmax agreement.

**Intended use.** Recognising a single, roughly centred handwritten digit, after the preprocessing the server
applies (polarity, crop, resize to 20 px, centre of mass at the centre of 28×28).

${card.digitScore ? digitScoreParagraph(card.digitScore) : ''}${card.pairScore ? pairScoreParagraph(card.pairScore) : ''}${card.pairDigits ? pairDigitsParagraph(card.pairDigits) : ''}**Limits.** Trained on MNIST only: American census workers' and students' handwriting from the 1990s,
scanned and normalised. ${card.digitScore ? 'The digit score catches many marks that are not digits, not all (see its figures); the probabilities are calibrated for digits only; the model reads one digit (or, with the pair reader, two touching digits at once), and the server reads a number character by character' : 'It always answers one of 0–9, even for letters, several digits or an empty image'};
treat low probabilities as "not sure". Accuracy on photos and canvas drawings is lower than on MNIST
and depends on the preprocessing. Not for decisions about people.

Data sha256: ${Object.entries(card.data).map(([k, v]) => `${k} \`${v.slice(0, 8)}…\``).join(', ')}. Source commit \`${card.sourceCommit}\`. Date ${card.date}.
`;
}

/**
 * After a score head was added to `modelPath`: the card at `cardPath` (when it describes that file) gets
 * the file's new sha256 and size, the head's output and `patch` (the fit's figures), and MODEL_CARD.md
 * beside it is written again. Returns whether it did.
 */
function updateCardForHead(cardPath: string, modelPath: string, output: ModelCard['outputs'][number], patch: Partial<ModelCard>): boolean {
  if (!existsSync(cardPath)) return false;
  const card = JSON.parse(readFileSync(cardPath, 'utf8')) as ModelCard;
  if (card.file !== basename(modelPath)) return false;
  const updated: ModelCard = {
    ...card, sha256: fileSha256(modelPath), bytes: statSync(modelPath).size,
    outputs: [...card.outputs.filter((o) => o.name !== output.name), output],
    ...patch,
  };
  writeFileSync(cardPath, `${JSON.stringify(updated, null, 2)}\n`);
  writeFileSync(join(dirname(cardPath), 'MODEL_CARD.md'), modelCardMarkdown(updated));
  return true;
}

/** The card after the digit-score head was added (see updateCardForHead). */
export function updateCardForDigitScore(cardPath: string, modelPath: string, fit: NonNullable<ModelCard['digitScore']>): boolean {
  return updateCardForHead(cardPath, modelPath,
    { name: DIGIT_SCORE_OUTPUT, shape: ['N', 1], meaning: 'how much the picture looks like a digit at all, in [0,1]; under 0.5 it is not a digit' }, { digitScore: fit });
}

/** The card after the pair-score head was added (see updateCardForHead). */
export function updateCardForPairScore(cardPath: string, modelPath: string, fit: NonNullable<ModelCard['pairScore']>): boolean {
  return updateCardForHead(cardPath, modelPath,
    { name: PAIR_SCORE_OUTPUT, shape: ['N', 1], meaning: 'how much the picture looks like two digits run together into one mark, in [0,1]' }, { pairScore: fit });
}

/** The card after the pair reader was added (see updateCardForHead). */
export function updateCardForPairDigits(cardPath: string, modelPath: string, fit: NonNullable<ModelCard['pairDigits']>): boolean {
  return updateCardForHead(cardPath, modelPath,
    { name: PAIR_DIGITS_OUTPUT, shape: ['N', 100], meaning: 'for a box of two digits run together, the probability of each pair "00"–"99" (10·left + right), then of no pair' }, { pairDigits: fit });
}
