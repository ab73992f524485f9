import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadMnist, PIXELS } from '../../src/data/mnist';
import type { RunningServer } from '../../src/serve/server';
import { startReadyServer } from '../helpers/server';
import { fuzzSeeds, FuzzSeed } from '../../src/fuzz/seeds';
import { fuzzServer, judgeAnswer, postImage } from '../../src/fuzz/run-fuzz';

const DECODE_TIMEOUT_MS = 1000;
/** Inputs that once hung or crashed the server (`make fuzz` writes them here). */
const REGRESSIONS = join(__dirname, '..', 'fixtures', 'fuzz');

let server: RunningServer;
let seeds: FuzzSeed[];

beforeAll(async () => {
  const { test } = await loadMnist();
  seeds = await fuzzSeeds(test.images.subarray(3 * PIXELS, 4 * PIXELS));
  server = await startReadyServer({ decodeTimeoutMs: DECODE_TIMEOUT_MS });
});
afterAll(() => server.shutdown());

describe('hostile uploads (a seeded mutation corpus) posted to a real server', () => {
  it('has a valid seed of every format and variant', async () => {
    expect(seeds.map((s) => s.name)).toEqual(['png-grey', 'png-palette', 'png-16bit', 'png-interlaced', 'png-rgba', 'jpeg-baseline', 'jpeg-progressive', 'gif', 'tiff', 'bmp']);
    for (const s of seeds) {
      const a = await postImage(`${server.url}/predict`, s.bytes, 5000);
      expect([s.name, a.status]).toEqual([s.name, 200]);
    }
  });

  it('answers 3,000 mutated files with 200 or a catalogued 4xx in time, /healthz answering throughout', async () => {
    const report = await fuzzServer(seeds, {
      url: server.url, seed: 20261128, count: 3000, concurrency: 8, answerWithinMs: DECODE_TIMEOUT_MS + 4000, healthEveryMs: 25,
    });
    expect(report.findings.map((f) => `${f.seed} #${f.index}: ${f.problem}`)).toEqual([]);
    expect(report.inputs).toBe(3000);
    expect(report.health.failed).toBe(0);
    expect(report.health.probes).toBeGreaterThan(20);
    // The corpus reaches past the format checks: some files still decode, most are refused for cause.
    expect(report.byStatus[200]).toBeGreaterThan(100);
    expect(report.byCode.IMAGE_UNDECODABLE).toBeGreaterThan(1000);
    const good = await postImage(`${server.url}/predict`, seeds[0].bytes, 5000);
    expect(good.status).toBe(200);
  });

  it('answers every kept regression input', async () => {
    const files = existsSync(REGRESSIONS) ? readdirSync(REGRESSIONS) : [];
    expect(files.length).toBeGreaterThan(0); // the kept inputs are committed: an empty folder is a lost fixture, not a pass
    for (const f of files) {
      const a = await postImage(`${server.url}/predict`, new Uint8Array(readFileSync(join(REGRESSIONS, f))), DECODE_TIMEOUT_MS + 4000);
      expect([f, judgeAnswer(a)]).toEqual([f, undefined]);
    }
  });
});
