import { parseWrkOutput } from '../../src/bench/run-bench';

describe('parseWrkOutput', () => {
  it("reads the result line the bench's Lua hook prints, in ms and requests per second", () => {
    const stdout = [
      'Running 10s test @ http://127.0.0.1:18080/predict',
      '  1 threads and 64 connections',
      'BENCH_JSON {"requests":24853,"durationUs":10001234,"errors":0,"non2xx":2,"p50Us":25338,"p99Us":47316}',
      'Requests/sec:   2485.00',
    ].join('\n');
    const r = parseWrkOutput(stdout);
    expect(r.requestsPerSecond).toBeCloseTo(24853 / 10.001234, 3);
    expect(r).toMatchObject({ p50Ms: 25.338, p99Ms: 47.316, errors: 0, non2xx: 2 });
  });

  it('says so when wrk printed no result line', () => {
    expect(() => parseWrkOutput('unable to connect to 127.0.0.1:18080 Connection refused')).toThrow(/no result line/);
  });
});
