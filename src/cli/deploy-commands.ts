import { writeFileSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { CONTAINER_TEST_DEFAULTS } from '../deploy/container-test';

export const containerTestCommand: CommandModule<object, { base: string; image: string; keep: boolean; out: string }> = {
  command: 'container-test',
  describe: 'build the container image with podman, run it and check it, stop it under load (writes artifacts/container.json)',
  builder: (y) => y.options({
    base: { type: 'string', default: CONTAINER_TEST_DEFAULTS.base, describe: "base image for the Dockerfile's ARG BASE; 'local' builds one from Debian with debootstrap (cached)" },
    image: { type: 'string', default: CONTAINER_TEST_DEFAULTS.image, describe: 'tag of the image built' },
    keep: { type: 'boolean', default: CONTAINER_TEST_DEFAULTS.keep, describe: 'leave the stopped container behind' },
    out: { type: 'string', default: 'artifacts/container.json', describe: 'result file' },
  }),
  handler: async (argv) => {
    const { runContainerTest } = await import('../deploy/container-test');
    const result = await runContainerTest({ ...CONTAINER_TEST_DEFAULTS, base: argv.base, image: argv.image, keep: argv.keep, log: (line) => console.log(line) });
    writeFileSync(argv.out, `${JSON.stringify(result, null, 2)}\n`);
    const s = result.stop;
    console.log(`stop under load: ${s.sent} sent, ${s.answered} answered (${s.answeredAfterStop} after the stop), ${s.refused} could not connect once the listener closed (nothing sent), ${s.lost} lost (sent, then reset or unanswered); exit ${s.exitCode} in ${s.stopSeconds.toFixed(1)} s`);
    console.log(`image ${(result.imageBytes / 1e6).toFixed(0)} MB, ready ${result.startToReadyMs} ms after podman run; wrote ${argv.out}`);
    if (!result.passed) {
      console.error(`container test FAILED:\n  ${result.failures.join('\n  ')}`);
      process.exitCode = 1;
    } else console.log('container test passed');
  },
};
