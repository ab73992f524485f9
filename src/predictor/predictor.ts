import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { AppError } from '../errors';
import { checkPixelLimit, Decoder, decodeCost, decodeSmallPng, defaultDecoder, HEAVY_DECODE_PIXELS, ImageHeader, loadSharp, readHeader } from '../image/decode';
import { createPreprocessor, PixelBox, Preprocessed, PreprocessInfo, WHOLE_28 } from '../image/preprocess';
import type { CandidateKind, SheetRows } from '../image/layout-candidates';
import { createPngDecoder } from '../image/png';
import { createDecodePool } from '../image/decode-pool';
import { Batcher, BatcherEvents } from '../inference/batcher';
import { DigitReading, pairReadingOf, pairScoreOf, toPrediction, Prediction } from '../inference/postprocess';
import { createInferencePool } from '../inference/inference-pool';
import { OUTPUT_ROW } from '../inference/protocol';
import { DIGIT_SCORE_OUTPUT } from '../onnx/digit-score';
import type { PredictorOptions } from './options';
import { chooseReading, lineAnswer, type LineCharacter, pairDoubt, READING_PRICES, readingProbability, readsTouching } from './read-number';
import { IMAGE_SIZE, PIXELS } from '../data/mnist';
import { SECOND_LOOK_SHIFTS, secondReading, shifted } from './second-look';

/** One hypothesis of where the digit is, as the model read it (`?debug=1`). */
export interface ScoredReading {
  /** 'page': the page pipeline's crop; 'whole', 'whole-inverted': a 28×28 picture as it is; 'tight', 'sheet', 'frame', 'print': other layouts. */
  kind: 'page' | 'whole' | 'whole-inverted' | CandidateKind;
  digit: number;
  probability: number;
  digitScore?: number;
  /** The pair-score head's: how much the box looks like two digits run together. */
  pairScore?: number;
  box?: PixelBox;
  /** The reading that answered (none when a number of several digits did). */
  chosen: boolean;
}

/** One candidate character of the line, as the model read it (`?debug=1`). */
export interface LineCandidateReading {
  /** The line's atoms [start, end) it joins (stroke parts left to right, wide parts cut). */
  start: number;
  end: number;
  box: PixelBox;
  digit: number;
  probability: number;
  digitScore?: number;
  pairScore?: number;
  /** The pair reader's likeliest pair for the box ("18"), and its probability. */
  pair?: string;
  pairProbability?: number;
  /** Whether the reading that made the line's number kept it, and whether as two digits. */
  chosen: boolean;
  asPair: boolean;
}

/**
 * `lineReading`, for a number read from the line: what its probability was calibrated from (the
 * reading's raw probability, and whether it separated touching digits), for fitting the calibration.
 */
export interface PredictResult {
  prediction: Prediction; input28: Float32Array; info: PreprocessInfo; readings?: ScoredReading[];
  lineReading?: { rawProbability: number; touching: boolean };
  /** Every candidate character of the line, when the picture has one (whichever reading answered). */
  lineCandidates?: LineCandidateReading[];
}

/** Image bytes in, prediction out: decode, preprocess, batch, infer in worker threads. */
export interface Predictor {
  /** Resolves when every worker has loaded the model and run a warm-up batch. */
  readonly ready: Promise<void>;
  isReady(): boolean;
  /** Once ready: whether the model answers a digit score (has the digit-score head). */
  hasDigitScore(): boolean;
  /** `client` (an address) is whom the bytes are decoded for: one client cannot hold every decoding thread. */
  predictBytes(bytes: Uint8Array, client?: string): Promise<PredictResult>;
  /** Already preprocessed images ([n,1,28,28] in [0,1]); each goes through the same queue. */
  predictInputs(inputs: Float32Array[]): Promise<Prediction[]>;
  readonly queueDepth: number;
  /** Stops taking work, answers what is queued, stops the workers. */
  close(): Promise<void>;
}

/** The answer for a picture in which nothing stands out as a stroke. */
function noDigit(): AppError {
  return new AppError('IMAGE_NO_DIGIT', 'no digit found: nothing in the image stands out from the background as a pen or pencil stroke (blank page, flat colour, paper texture or an empty canvas?)');
}

/** Two boxes show the same mark when their intersection is this share of their union. */
const SAME_MARK = 0.8;

/** The intersection of two boxes over their union. */
function overlapShare(a: PixelBox, b: PixelBox): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  return (w * h) / (a.width * a.height + b.width * b.height - w * h);
}

/** Share of a box's longer side another box may reach beyond it and still lie within it. */
const COVER_MARGIN = 0.1;

/** Does box `outer` hold box `inner`, which may reach `margin` of outer's longer side beyond it? */
function covers(outer: PixelBox, inner: PixelBox, margin = COVER_MARGIN): boolean {
  const m = margin * Math.max(outer.width, outer.height);
  return inner.x >= outer.x - m && inner.y >= outer.y - m
    && inner.x + inner.width <= outer.x + outer.width + m && inner.y + inner.height <= outer.y + outer.height + m;
}

/**
 * Whether box `b` lies within a turned sheet's ends in every band of rows it spans, to within one band's
 * height: the sheet's slanted edge, where the desk meets it, lies inside the sheet's box but not on it.
 */
function withinRows(rows: SheetRows | undefined, b: PixelBox): boolean {
  if (!rows) return true;
  for (let k = Math.max(0, Math.floor((b.y - rows.y0) / rows.step)); k < rows.left.length && rows.y0 + k * rows.step <= b.y + b.height - 1; k++) {
    if (b.x < rows.left[k] - rows.step || b.x + b.width - 1 > rows.right[k] + rows.step) return false;
  }
  return true;
}

/** The answer for a mark the model's digit-score head does not take for a digit. */
function notADigit(score: number, min: number): AppError {
  return new AppError('IMAGE_NO_DIGIT', `no digit found: a mark stands out from the background but it is not a digit (digit score ${score.toFixed(3)} < ${min}); a letter, a symbol, a drawing or a scribble?`);
}

/** The refusal of a one-digit reading: under the digit score's line, or under `minWorth` (see judged). */
function refusal(p: Prediction, minScore: number, minWorth: number): AppError {
  if (p.digitScore! < minScore) return notADigit(p.digitScore!, minScore);
  return new AppError('IMAGE_NO_DIGIT', `no digit found: a mark stands out from the background but it does not read as a digit (probability ${p.probability.toFixed(3)} × digit score ${p.digitScore!.toFixed(3)} < ${minWorth}); a letter, a symbol, a drawing or a scribble?`);
}

/**
 * A one-digit answer with the reading's fields: `number` its digit, `digits` the one entry with its box.
 * The whole reading's probability is doubted as a number's character is when the pair head takes the
 * box for two digits (`pairScore`; a 28×28 picture read as it is passes none).
 */
function withReading(p: Prediction, box: PixelBox = WHOLE_28, pairScore?: number): Prediction {
  const digit: DigitReading = { digit: p.digit, probability: p.probability, probabilities: p.probabilities, box };
  if (p.digitScore !== undefined) { digit.digitScore = p.digitScore; digit.isDigit = p.isDigit; }
  const doubt = pairDoubt(pairScore);
  return { ...p, probability: doubt === 1 ? p.probability : Number((p.probability * doubt).toPrecision(6)), number: String(p.digit), digits: [digit] };
}

/** What the predictor reports to its owner, and the error it answers with once closed. */
export interface PredictorHooks extends BatcherEvents {
  /** The answer to work offered after close() (the server's SERVER_DRAINING). */
  closedError?: () => AppError;
  /** Warnings worth a log line (the decoder that will be used when sharp does not load). */
  log?: (msg: string) => void;
}

/** How much a reading is worth: its probability, times its digit score when the model has the head. */
const worth = (p: Prediction) => p.probability * (p.digitScore ?? 1);

/**
 * A 28×28 picture read as it is, in the polarity its ink suggests, answers when worth at least this
 * much: it is already the model's format, and the page pipeline's crop of a damaged 28×28 digit (bands,
 * fog, a line, an outline) is more often wrong than right when the model doubts both
 * (docs/robustness.md).
 */
const AS_IS_WORTH = 0.5;

/**
 * Which of a 28×28 picture's whole readings (the polarity its ink suggests first, then the other)
 * answers, or -1 for the normalized crop's reading: the first when it is worth AS_IS_WORTH, else the one
 * worth most.
 */
function bestWhole(crop: Prediction | undefined, whole: Prediction[]): number {
  if (whole.length === 0) return -1;
  if (worth(whole[0]) >= AS_IS_WORTH) return 0;
  let best = -1;
  let bar = crop ? worth(crop) : -1;
  whole.forEach((p, k) => { if (worth(p) > bar) { best = k; bar = worth(p); } });
  return best;
}

/**
 * A digit score at which the head leaves no doubt: a reading that `needsDoubt` overrules a refused page
 * reading only when the head is this sure of it (docs/finding-the-digit.md).
 */
const SURE_DIGIT_SCORE = 0.99;

/**
 * Which of a picture's other layout readings answers instead of the page pipeline's, or -1 for the
 * page's: the one worth most, when it is worth more than the page's. Each hypothesis is checked by the
 * model itself; on the tuned layout families a bar for the page's reading (trust it when worth 0.5, 0.7
 * or 0.9) lost more than it saved (docs/finding-the-digit.md). A reading that `needsDoubt` does not
 * overrule a page reading the digit score refuses, or a letter the page found cleanly would be answered
 * as a digit from the whole picture's bolder crop; unless the head is sure of that reading
 * (SURE_DIGIT_SCORE), as it is of a digit whose strokes run to the edges and were cut short by the page.
 */
function bestAlternative(page: Prediction | undefined, alternatives: Prediction[], needsDoubt: boolean[]): number {
  let best = -1;
  let bar = page ? worth(page) : -1;
  const refused = page?.isDigit === false;
  const barred = (p: Prediction, k: number) => refused && needsDoubt[k] && (p.digitScore ?? 0) < SURE_DIGIT_SCORE;
  alternatives.forEach((p, k) => { if (!barred(p, k) && worth(p) > bar) { best = k; bar = worth(p); } });
  return best;
}

/** The default answer to work offered after close(). */
function predictorClosed(): AppError {
  return new AppError('SERVER_DRAINING', 'the predictor is closed');
}

/**
 * Starts the worker pools for `modelPath`. Requests may come at once: they wait in the queue (bounded by
 * the request timeout) until every worker has loaded the model.
 * @example const p = createPredictor('artifacts/mnist-cnn.int8.onnx', config); await p.ready;
 */
export function createPredictor(modelPath: string, opts: PredictorOptions, hooks: PredictorHooks = {}): Predictor {
  const { closedError = predictorClosed, log = () => {}, ...events } = hooks;
  if (!existsSync(modelPath)) throw new AppError('MODEL_INVALID', `model file ${modelPath} does not exist (run make export-onnx, or pass --model)`);
  const inference = createInferencePool(opts.workers, {
    modelPath: resolve(modelPath), intraOpNumThreads: opts.intraOpNumThreads, soloIntraOpNumThreads: opts.soloIntraOpNumThreads, warmupBatch: opts.maxBatchSize, nice: opts.workerNice,
  }, closedError);
  let decoder: Decoder = opts.decoder === 'auto' ? defaultDecoder() : opts.decoder;
  if (decoder === 'sharp' && !loadSharp()) decoder = 'jimp';
  if (decoder === 'jimp') log(`decoding photos with jimp${opts.decoder === 'auto' || opts.decoder === 'sharp' ? ': sharp\'s native binary does not load on this platform' : ''} (slower: ~1 s for a 12 MP JPEG)`);
  // Every decoder but our own PNG one runs here, with a deadline: a hostile file can make a decoder loop
  // forever, and the worker is then replaced. A 12 MP photo takes ~50 ms in sharp: bound how many may
  // wait, so a flood of them turns into 503s instead of memory growth.
  const decoders = createDecodePool({ nice: opts.workerNice, decoder }, { size: opts.decodeWorkers, maxWaiting: opts.maxDecodeQueue, closedError });
  const decodeDeadline = {
    // A request's whole life is bounded by requestTimeoutMs: waiting for a decoder too (a burst of files
    // that each run a decoder into its deadline can queue up behind one another).
    waitMs: opts.requestTimeoutMs,
    deadlineMs: opts.decodeTimeoutMs,
    timeoutError: () => new AppError('IMAGE_UNDECODABLE', `the image could not be decoded: the decoder took longer than ${opts.decodeTimeoutMs} ms and was stopped`),
  };
  let readyFlag = false;
  let digitScore = false;
  const ready = inference.broadcast('init', {}).then((replies) => { digitScore = replies[0].outputs.includes(DIGIT_SCORE_OUTPUT); readyFlag = true; },
    (err: Error) => { throw new AppError('MODEL_INVALID', `a worker could not load ${modelPath}: ${err.message}`); });
  ready.catch(() => {}); // the server logs it; requests waiting on it get the error
  const batcher = new Batcher(async (images, n, solo) => {
    await ready; // a batch cut before the model has loaded waits for it
    const { rows } = await inference.run('run', { images, n, solo }, { transfer: [images.buffer as ArrayBuffer] });
    return rows;
  }, { ...opts, concurrency: opts.workers, closedError, rowWidth: OUTPUT_ROW }, events);
  // This thread's small PNGs: decoded into the decoder's buffers and preprocessed at once.
  const png = createPngDecoder();
  const preprocessor = createPreprocessor();

  async function toInput(bytes: Uint8Array, header: ImageHeader, client?: string): Promise<Preprocessed> {
    checkPixelLimit(header, opts.maxPixels, bytes.length); // before copying the bytes to the decoding worker
    if (header.width * header.height <= opts.inlineDecodeMaxPixels) {
      // Our own PNG decoder only (bounded by the header's size), synchronously.
      const bitmap = decodeSmallPng(png, bytes, header, opts.maxPixels);
      if (bitmap) return preprocessor.run(bitmap);
    }
    const copy = Uint8Array.from(bytes);
    return decoders.run('decode', { bytes: copy, maxPixels: opts.maxPixels }, { ...decodeDeadline, owner: client, heavy: decodeCost(header) > HEAVY_DECODE_PIXELS, transfer: [copy.buffer] });
  }

  /**
   * A number's characters read as one digit each, read again as moved a pixel each way
   * (SECOND_LOOK_SHIFTS; `secondReading`). A character read as two digits keeps its reading.
   */
  async function secondLook(chars: LineCharacter[], inputs: Float32Array[], rows: Float32Array[]): Promise<LineCharacter[]> {
    const single = chars.flatMap((c, i) => (c.pair ? [] : [i]));
    if (single.length === 0) return chars;
    const n = SECOND_LOOK_SHIFTS.length;
    const moved = await batcher.submitAll(single.flatMap((i) => SECOND_LOOK_SHIFTS.map(([dx, dy]) => shifted(inputs[i], dx, dy))));
    const looked = chars.slice();
    single.forEach((i, j) => {
      looked[i] = { ...chars[i], prediction: secondReading(chars[i].prediction, [rows[i], ...moved.slice(j * n, (j + 1) * n)], opts.minDigitScore) };
    });
    return looked;
  }

  return {
    ready,
    isReady: () => readyFlag,
    hasDigitScore: () => digitScore,
    get queueDepth() { return batcher.depth; },
    async predictBytes(bytes, client) {
      // Decode in the event loop's check phase, after the I/O callbacks that are ready now: under load a
      // burst of uploads would otherwise decode back to back before a /healthz in the same burst is read.
      await new Promise<void>((r) => setImmediate(r));
      const header = readHeader(bytes);
      const pre = await toInput(bytes, header, client);
      // A photo's one-digit reading is a digit when the head says so and when, times how sure the model
      // is of the digit, it reaches minDigitWorth: the marks the head half believes that read as no
      // clear digit are letters and symbols far more often than digits (docs/not-a-digit.md). A 28×28
      // picture is MNIST's own format, whose hard or damaged digits are read at low probabilities: the
      // head's line alone judges it.
      const mnistSized = header.width === IMAGE_SIZE && header.height === IMAGE_SIZE;
      const judged = (p: Prediction): Prediction => (!mnistSized && p.isDigit && worth(p) < opts.minDigitWorth ? { ...p, isDigit: false } : p);
      const { input, info, line, whole = [], alternatives = [] } = pre;
      if (info.empty && whole.length === 0 && alternatives.length === 0) throw noDigit();
      const refuse = opts.notDigit === 'refuse';
      // The one-digit reading, the whole picture's readings and every candidate character of the line go
      // to the model together.
      const inputs = [input, ...whole.map((r) => r.input), ...alternatives.map((r) => r.input)];
      if (line) for (let k = 0; k < line.candidates.length; k++) inputs.push(line.inputs.subarray(k * PIXELS, (k + 1) * PIXELS));
      const rows: (Float32Array | undefined)[] = info.empty ? [undefined, ...await batcher.submitAll(inputs.slice(1))] : await batcher.submitAll(inputs);
      const single = info.empty ? undefined : toPrediction(rows[0]!, opts.minDigitScore);
      const readings = whole.map((_, k) => toPrediction(rows[1 + k]!, opts.minDigitScore));
      const others = alternatives.map((_, k) => toPrediction(rows[1 + whole.length + k]!, opts.minDigitScore));
      const singlePair = single ? pairScoreOf(rows[0]!) : undefined;
      const otherPairs = alternatives.map((_, k) => pairScoreOf(rows[1 + whole.length + k]!));
      const hypotheses: { kind: ScoredReading['kind']; prediction: Prediction; pairScore?: number; box?: PixelBox }[] = [
        ...(single ? [{ kind: 'page' as const, prediction: single, pairScore: singlePair, box: pre.box }] : []),
        ...whole.map((r, k) => ({ kind: r.inverted ? 'whole-inverted' as const : 'whole' as const, prediction: readings[k], pairScore: pairScoreOf(rows[1 + k]!), box: WHOLE_28 })),
        ...alternatives.map((a, k) => ({ kind: a.kind, prediction: others[k], pairScore: otherPairs[k], box: a.box })),
      ];
      const scored = (chosen?: Prediction): ScoredReading[] => hypotheses.map((h) => ({
        kind: h.kind, digit: h.prediction.digit, probability: h.prediction.probability, digitScore: h.prediction.digitScore, pairScore: h.pairScore, box: h.box, chosen: h.prediction === chosen,
      }));
      const best = bestWhole(single, readings);
      if (best >= 0) {
        const prediction = readings[best];
        if (prediction.isDigit === false && refuse) throw notADigit(prediction.digitScore!, opts.minDigitScore);
        return { prediction: withReading(prediction, WHOLE_28), input28: whole[best].input, info: { ...info, path: 'whole', inverted: whole[best].inverted, empty: false }, readings: scored(prediction) };
      }
      const other = bestAlternative(single, others, alternatives.map((a) => a.needsDoubt));
      const answerOther = (k = other): PredictResult => {
        const prediction = judged(others[k]);
        const alt = alternatives[k];
        if (prediction.isDigit === false && refuse) throw refusal(prediction, opts.minDigitScore, opts.minDigitWorth);
        return { prediction: withReading(prediction, alt.box, otherPairs[k]), input28: alt.input, info: { ...info, path: alt.kind, inverted: alt.inverted, empty: false }, readings: scored(others[k]) };
      };
      if (!single) {
        if (other >= 0) return answerOther();
        throw noDigit();
      }
      const lineRows = rows.slice(1 + whole.length + alternatives.length) as Float32Array[];
      const candidates = line ? lineRows.map((r) => toPrediction(r, opts.minDigitScore)) : [];
      const linePairScores = lineRows.map((r) => pairScoreOf(r)); // undefined without a pair head
      const pairScores = linePairScores.map((s) => s ?? 0);
      const pairReads = lineRows.map((r) => pairReadingOf(r));
      const { chosen, asPair } = line && pre.box
        ? chooseReading(line, candidates, { prediction: single, box: pre.box, pairScore: singlePair }, READING_PRICES, pairScores, pairReads)
        : { chosen: [], asPair: [] };
      const lineCandidates = line?.candidates.map((c, k): LineCandidateReading => {
        const i = chosen.indexOf(k);
        const pair = pairReads[k];
        return {
          start: c.start, end: c.end, box: c.box, digit: candidates[k].digit, probability: candidates[k].probability, digitScore: candidates[k].digitScore,
          pairScore: linePairScores[k], pair: pair && `${pair.left}${pair.right}`, pairProbability: pair?.probability, chosen: i >= 0, asPair: i >= 0 && asPair[i],
        };
      });
      const withLine = (r: PredictResult): PredictResult => (lineCandidates ? { ...r, lineCandidates } : r);
      // When the picture is a sheet on a desk, a number is written on the sheet: a reading with a
      // character on the desk took the desk's grain or the sheet's edge for strokes. The sheet counts
      // when its digit is the page's own (both found the same mark); chalk strokes on a board are a
      // light region too, and the page reads them, not what lies between them.
      const sheetHypothesis = alternatives.find((a) => a.sheet);
      const sameMark = !!sheetHypothesis && !!pre.box && overlapShare(sheetHypothesis.box, pre.box) >= SAME_MARK;
      const onSheet = (b: PixelBox) => !sameMark || (covers(sheetHypothesis.sheet!, b, 0) && withinRows(sheetHypothesis.sheetRows, b));
      if (line && chosen.length > 0 && chosen.every((k) => onSheet(line.candidates[k].box))) {
        const chars: LineCharacter[] = chosen.map((k, i) => ({
          prediction: candidates[k], box: line.candidates[k].box, pairScore: pairScores[k], pair: asPair[i] ? pairReads[k] : undefined,
          cut: i > 0 && (line.cutStrokes[line.candidates[k].start] ?? 0) > 0,
        }));
        const first = lineAnswer(chars, refuse);
        // A number is read unless a one-digit reading is worth more than the whole reading (its raw
        // probability, so that the number's calibration changes no answer): another
        // layout's, or one that covers every character read (the whole picture's crop of a thick digit
        // whose blobs the line took for two characters), whether or not it may overrule the page's;
        // but not one the pair head takes for two digits (the tight crop of a number of two or more),
        // and none when a character was read as two digits: the pair score let the reader read it so
        // because the model takes that box for two digits, which a one-digit reading of it denies.
        // Against a reading of separate parts, a rival whose pair score reaches PAIR_DOUBT_LINE counts at
        // the probability it would be answered with (× PAIR_DOUBT), as the reading's own characters do;
        // a reading that cut through strokes is a guess of its own, and meets the rival undoubted.
        const oneDigit = (k: number) => (otherPairs[k] ?? 0) < READING_PRICES.rivalPairScore && !chars.some((c) => c.pair);
        const touching = readsTouching(chars); // the second look keeps every cut and pair
        const rivalWorth = (k: number) => worth(others[k]) * (touching ? 1 : pairDoubt(otherPairs[k]));
        let rival = other >= 0 && oneDigit(other) ? other : -1;
        alternatives.forEach((a, k) => {
          if (oneDigit(k) && chars.every((c) => covers(a.box, c.box)) && (rival < 0 || rivalWorth(k) > rivalWorth(rival))) rival = k;
        });
        if (rival >= 0 && readingProbability(chars) * (first.digitScore ?? 1) < rivalWorth(rival)) return withLine(answerOther(rival));
        if (refuse && chars.every((c) => !c.pair && c.prediction.isDigit === false)) throw notADigit(first.digitScore!, opts.minDigitScore);
        // Which reading answers is decided on the characters as first read; what a number's characters
        // read, on their second look.
        const looked = chars.length > 1 ? await secondLook(chars, chosen.map((k) => line.inputs.subarray(k * PIXELS, (k + 1) * PIXELS)), chosen.map((k) => lineRows[k])) : chars;
        const prediction = looked === chars ? first : lineAnswer(looked, refuse);
        const lineReading = { rawProbability: readingProbability(looked), touching };
        // The debug input is the leftmost digit's, as `digit` and `probabilities` are.
        return withLine({ prediction, input28: line.inputs.slice(chosen[0] * PIXELS, (chosen[0] + 1) * PIXELS), info, readings: scored(), lineReading });
      }
      if (other >= 0) return withLine(answerOther());
      const page = judged(single);
      if (page.isDigit === false && refuse) throw refusal(page, opts.minDigitScore, opts.minDigitWorth);
      return withLine({ prediction: withReading(page, pre.box, singlePair), input28: input, info, readings: scored(single) });
    },
    async predictInputs(inputs) {
      const rows = await batcher.submitAll(inputs);
      return rows.map((row) => withReading(toPrediction(row, opts.minDigitScore), WHOLE_28));
    },
    async close() {
      await batcher.drain();
      await Promise.all([inference.close(), decoders.close()]);
    },
  };
}
