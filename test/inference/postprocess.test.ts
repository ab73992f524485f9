import { pairReadingOf, pairScoreOf, toPrediction } from '../../src/inference/postprocess';

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

describe('pairReadingOf', () => {
  it('reads the likeliest of the 100 pairs and what each half reads, and nothing for a model without the reader', () => {
    const pairs = new Array<number>(101).fill(0);
    pairs[47] = 0.3; pairs[41] = 0.15; pairs[97] = 0.05; pairs[100] = 0.5; // "47", "41", "97", no pair
    const reading = pairReadingOf(Float32Array.from([...seven, 0.97, 0.99, ...pairs]))!;
    expect(reading).toMatchObject({ left: 4, right: 7 });
    // The pair's own probability, which "no pair" takes from; the halves out of all pairs.
    expect(reading.probability).toBeCloseTo(0.3, 6);
    expect(reading.leftProbabilities[4]).toBeCloseTo(0.9, 5);
    expect(reading.leftProbabilities[9]).toBeCloseTo(0.1, 5);
    expect(reading.rightProbabilities[7]).toBeCloseTo(0.7, 5);
    expect(reading.rightProbabilities[1]).toBeCloseTo(0.3, 5);
    expect(pairReadingOf(Float32Array.from([...seven, 0.97, 0.99, ...new Array(101).fill(NaN)]))).toBeUndefined();
    expect(pairReadingOf(Float32Array.from([...seven, 0.97, 0.99]))).toBeUndefined();
  });
});
