import { pairScoreOf, toPrediction } from '../../src/inference/postprocess';

const row = (probs: number[], score?: number) => Float32Array.from(score === undefined ? probs : [...probs, score]);
const seven = [0, 0, 0, 0, 0, 0, 0, 0.9, 0.1, 0];

describe('toPrediction', () => {
  it('answers the most probable digit and its probability', () => {
    expect(toPrediction(row(seven))).toEqual({ digit: 7, probability: 0.9, probabilities: seven });
  });

  it('adds the digit score and whether it reaches the line', () => {
    expect(toPrediction(row(seven, 0.97))).toMatchObject({ digit: 7, digitScore: 0.97, isDigit: true });
    expect(toPrediction(row(seven, 0.2))).toMatchObject({ digit: 7, digitScore: 0.2, isDigit: false });
    expect(toPrediction(row(seven, 0.2), 0.1)).toMatchObject({ isDigit: true });
    expect(toPrediction(row(seven, 0.5))).toMatchObject({ isDigit: true });
  });

  it('leaves both out for a model without a digit score (NaN in its row)', () => {
    const p = toPrediction(row(seven, NaN));
    expect(p).not.toHaveProperty('digitScore');
    expect(p).not.toHaveProperty('isDigit');
  });
});

describe('pairScoreOf', () => {
  it('reads the pair score after the digit score, and nothing for a model without the head', () => {
    expect(pairScoreOf(Float32Array.from([...seven, 0.97, 0.25]))).toBeCloseTo(0.25, 6);
    expect(toPrediction(Float32Array.from([...seven, 0.97, 0.25]))).not.toHaveProperty('pairScore');
    expect(pairScoreOf(Float32Array.from([...seven, 0.97, NaN]))).toBeUndefined();
    expect(pairScoreOf(Float32Array.from([...seven, 0.97]))).toBeUndefined();
  });
});
