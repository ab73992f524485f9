import { AppError, isAppError } from '../../src/errors';
import { parseV2Inputs, v2Response, V2_ERROR_FORMAT } from '../../src/serve/v2-protocol';

const bad = (body: unknown): string => {
  try {
    parseV2Inputs(body);
  } catch (err) {
    if (isAppError(err, 'REQUEST_BAD_TENSOR')) return err.message;
    throw err;
  }
  throw new Error('expected REQUEST_BAD_TENSOR');
};
const fp32 = (n: number, fill = 0.5) => ({ name: 'image', datatype: 'FP32', shape: [n, 1, 28, 28], data: new Array(n * 784).fill(fill) });

describe('parseV2Inputs', () => {
  it('reads FP32 [N,1,28,28], flat or nested, into one input per image', () => {
    const parsed = parseV2Inputs({ inputs: [fp32(2)] });
    expect(parsed.kind).toBe('tensor');
    if (parsed.kind !== 'tensor') return;
    expect(parsed.images).toHaveLength(2);
    expect(parsed.images[1]).toHaveLength(784);
    const nested = { ...fp32(1), data: [[Array.from({ length: 28 }, () => new Array(28).fill(0.25))]] };
    const one = parseV2Inputs({ inputs: [nested] });
    expect(one.kind === 'tensor' && one.images[0][783]).toBe(0.25);
  });

  it('reads BYTES [N] of base64 files', () => {
    const parsed = parseV2Inputs({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [2], data: [Buffer.from('ab').toString('base64'), ''] }] });
    expect(parsed.kind).toBe('bytes');
    expect(parsed.kind === 'bytes' && parsed.files.map((f) => Buffer.from(f).toString())).toEqual(['ab', '']);
  });

  it('refuses every malformed request with REQUEST_BAD_TENSOR and says what is wrong', () => {
    expect(bad(null)).toMatch(/exactly one entry in 'inputs'/);
    expect(bad({ inputs: [fp32(1), fp32(1)] })).toMatch(/exactly one entry/);
    expect(bad({ inputs: [{ ...fp32(1), name: 'pixels' }] })).toMatch(/unknown input 'pixels': this model's input is 'image'/);
    expect(bad({ inputs: [{ ...fp32(1), shape: [1, 1, 28, -28] }] })).toMatch(/shape of positive integers/);
    expect(bad({ inputs: [{ ...fp32(1), shape: [1, 3, 28, 28] }] })).toMatch(/expected \[N,1,28,28\]/);
    expect(bad({ inputs: [{ ...fp32(1), data: [1, 2] }] })).toMatch(/has 2 values; shape \[1,1,28,28\] needs 784/);
    expect(bad({ inputs: [{ ...fp32(1), data: [...new Array(783).fill(0), 'x'] }] })).toMatch(/value 783 is not a finite number/);
    expect(bad({ inputs: [{ ...fp32(1), datatype: 'INT8' }] })).toMatch(/datatype INT8; expected FP32/);
    expect(bad({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [2], data: ['a'] }] })).toMatch(/shape \[N\] and N base64 strings/);
    expect(bad({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [5] }] })).toMatch(/element 0 is not a base64 string/);
  });
});

describe('v2Response and V2_ERROR_FORMAT', () => {
  const p = { digit: 7, probability: 0.9, probabilities: [0, 0, 0, 0, 0, 0, 0, 0.9, 0.1, 0] };

  it('keeps the requested outputs, and adds `error` only when an image failed', () => {
    const ok = v2Response([p], '1', { id: 'r1', inputs: [], outputs: [{ name: 'digit' }] });
    expect(ok).toEqual({ model_name: 'mnist', model_version: '1', id: 'r1', outputs: [{ name: 'digit', shape: [1], datatype: 'INT64', data: [7] }] });
    const mixed = v2Response([p, new AppError('IMAGE_NO_DIGIT', 'none')], '1', { inputs: [] }) as { outputs: Array<{ name: string; data: unknown[] }> };
    expect(mixed.outputs.map((o) => o.name)).toEqual(['probabilities', 'digit', 'number', 'number_boxes', 'number_probabilities', 'error']);
    const out = Object.fromEntries(mixed.outputs.map((o) => [o.name, o.data]));
    expect(out.digit).toEqual([7, -1]);
    expect(out.number).toEqual(['7', '']);
    expect(out.error).toEqual(['', 'IMAGE_NO_DIGIT: none']);
  });

  it('pads the digits of numbers of different lengths to the longest', () => {
    const d = (digit: number, x: number) => ({ digit, probability: 0.9, probabilities: p.probabilities, box: { x, y: 5, width: 10, height: 20 } });
    const two = { ...p, digit: 4, number: '42', digits: [d(4, 0), d(2, 20)] };
    const one = { ...p, number: '7', digits: [d(7, 3)] };
    const res = v2Response([two, one], '1', { inputs: [] }) as { outputs: Array<{ name: string; shape: number[]; data: unknown[] }> };
    const out = Object.fromEntries(res.outputs.map((o) => [o.name, o]));
    expect(out.number.data).toEqual(['42', '7']);
    expect(out.number_boxes.shape).toEqual([2, 2, 4]);
    expect(out.number_boxes.data).toEqual([0, 5, 10, 20, 20, 5, 10, 20, 3, 5, 10, 20, -1, -1, -1, -1]);
    expect(out.number_probabilities).toMatchObject({ shape: [2, 2], data: [0.9, 0.9, 0.9, 0] });
  });

  it('writes errors as the protocol does: 400 for a bad request, 404, 413 and 5xx kept', () => {
    expect(V2_ERROR_FORMAT(new AppError('IMAGE_NO_DIGIT', 'x'))).toEqual({ status: 400, body: { error: 'IMAGE_NO_DIGIT: x' } });
    expect(V2_ERROR_FORMAT(new AppError('NOT_FOUND', 'x')).status).toBe(404);
    expect(V2_ERROR_FORMAT(new AppError('IMAGE_TOO_LARGE', 'x')).status).toBe(413);
    expect(V2_ERROR_FORMAT(new AppError('QUEUE_FULL', 'x')).status).toBe(503);
  });
});
