import * as ort from 'onnxruntime-node';
import { DIGIT_SCORE_OUTPUT, PAIR_SCORE_OUTPUT } from './digit-score';
import { PAIR_DIGITS_OUTPUT } from './pair-digits';

/**
 * The one module that imports onnxruntime-node. Everything else sees this small interface.
 */
export interface OnnxSession {
  /**
   * Runs a batch of images [n, 1, 28, 28] (pixels in [0,1]); returns the named outputs. `digitScores`
   * and `pairScores` ([n], the `digit_score` and `pair_score` outputs) only from a model that has those
   * heads (see digit-score.ts); `pairDigits` ([n, 100], the pair reader's `pair_digits`, pair-digits.ts)
   * only from a model that has it.
   */
  run(images: Float32Array, n: number): Promise<{ probabilities: Float32Array; logits: Float32Array; digitScores?: Float32Array; pairScores?: Float32Array; pairDigits?: Float32Array; outputs: Record<string, Float32Array> }>;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  close(): Promise<void>;
}

export interface SessionOptions {
  intraOpNumThreads: number; // threads inside one operator
  graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
  /** Whether idle intra-op threads busy-wait for work. Off by default: the server runs several sessions
   * and an HTTP thread on few cores, where spinning threads take CPU the others need. */
  allowSpinning: boolean;
}

export const SESSION_DEFAULTS: Readonly<SessionOptions> = Object.freeze({
  intraOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  allowSpinning: false,
});

/** Opens an ONNX model file (or bytes) in onnxruntime's CPU execution provider. */
export async function openSession(model: string | Uint8Array, options: Partial<SessionOptions> = {}): Promise<OnnxSession> {
  const opts = { ...SESSION_DEFAULTS, ...options };
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    intraOpNumThreads: opts.intraOpNumThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: opts.graphOptimizationLevel,
    extra: { session: { intra_op: { allow_spinning: opts.allowSpinning ? '1' : '0' } } },
  };
  const session = typeof model === 'string'
    ? await ort.InferenceSession.create(model, sessionOptions)
    : await ort.InferenceSession.create(model, sessionOptions);
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(images, n) {
      const input = new ort.Tensor('float32', images, [n, 1, 28, 28]);
      const out = await session.run({ [session.inputNames[0]]: input });
      return {
        probabilities: out.probabilities.data as Float32Array,
        logits: out.logits.data as Float32Array,
        digitScores: out[DIGIT_SCORE_OUTPUT]?.data as Float32Array | undefined,
        pairScores: out[PAIR_SCORE_OUTPUT]?.data as Float32Array | undefined,
        pairDigits: out[PAIR_DIGITS_OUTPUT]?.data as Float32Array | undefined,
        outputs: Object.fromEntries(Object.entries(out).map(([k, t]) => [k, t.data as Float32Array])),
      };
    },
    close: () => session.release(),
  };
}
