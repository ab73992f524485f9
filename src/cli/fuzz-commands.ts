import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import { loadMnist, PIXELS } from '../data/mnist';
import { startServer } from '../serve/server';
import { fuzzSeeds } from '../fuzz/seeds';
import { fuzzServer } from '../fuzz/run-fuzz';

interface Args { count: number; seed: number; concurrency: number; 'decode-timeout-ms': number; keep: string }

export const fuzzCommand: CommandModule<object, Args> = {
  command: 'fuzz',
  describe: 'post mutated images to a server on 127.0.0.1 and keep every input it mishandles',
  builder: (y) => y.options({
    count: { type: 'number', default: 30_000, describe: 'mutated inputs' },
    seed: { type: 'number', default: Math.floor(Date.now() / 1000) % 100_000, describe: 'mutation seed (default: from the clock, so every run tries new inputs)' },
    concurrency: { type: 'number', default: 8, describe: 'posts in flight' },
    'decode-timeout-ms': { type: 'number', default: 2000, describe: "the server's decoding deadline" },
    keep: { type: 'string', default: 'test/fixtures/fuzz', describe: 'where mishandled inputs are written (the fuzz test posts them all)' },
  }),
  handler: async (argv) => {
    const { test } = await loadMnist();
    const seeds = await fuzzSeeds(test.images.subarray(0, PIXELS));
    const server = await startServer({ port: 0, host: '127.0.0.1', logLevel: 'silent', decodeTimeoutMs: argv['decode-timeout-ms'] });
    await server.predictor.ready;
    try {
      console.log(`fuzzing ${server.url} with ${argv.count} inputs from ${seeds.length} seeds, mutation seed ${argv.seed}`);
      const report = await fuzzServer(seeds, {
        url: server.url, seed: argv.seed, count: argv.count, concurrency: argv.concurrency,
        answerWithinMs: argv['decode-timeout-ms'] + 3000, healthEveryMs: 20,
      });
      const { findings, ...summary } = report;
      console.log(JSON.stringify(summary, null, 2));
      if (findings.length > 0) {
        mkdirSync(argv.keep, { recursive: true });
        for (const f of findings) {
          const file = join(argv.keep, `${f.seed}-s${argv.seed}-${f.index}.bin`);
          writeFileSync(file, f.bytes);
          console.log(`${file}: ${f.problem} (${f.applied.join(', ')})`);
        }
        process.exitCode = 1;
      } else console.log('no findings');
    } finally {
      await server.shutdown();
    }
  },
};
