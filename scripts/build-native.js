#!/usr/bin/env node
// Builds dist/native/blas-kernels.node, the OpenBLAS training kernels (src/backend/native/blas-kernels.c).
// Optional: without a C compiler or OpenBLAS the build goes on and training uses the wasm kernels alone,
// so the message says what to install rather than failing.
const { execFileSync } = require('node:child_process');
const { existsSync, mkdirSync, renameSync, statSync } = require('node:fs');
const { dirname, join } = require('node:path');

const root = join(__dirname, '..');
const source = join(root, 'src', 'backend', 'native', 'blas-kernels.c');
const output = join(root, 'dist', 'native', 'blas-kernels.node');
const nodeHeaders = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node']
  .find((dir) => existsSync(join(dir, 'node_api.h')));
const blasHeaders = ['/usr/include/x86_64-linux-gnu', '/usr/include/aarch64-linux-gnu', '/usr/include', '/usr/include/openblas']
  .find((dir) => existsSync(join(dir, 'cblas.h')));
const cc = process.env.CC || 'cc';

function skip(why) {
  console.log(`native training kernels not built (${why}); training uses the wasm kernels alone. ` +
    'For the fast kernels: apt-get install gcc libopenblas-dev, then npm run build.');
  process.exit(0);
}

if (process.env.MNIST_TRAIN_BLAS === '0') skip('MNIST_TRAIN_BLAS=0');
if (!nodeHeaders) skip("Node's headers (node_api.h) not found");
if (!blasHeaders) skip('cblas.h not found');
if (existsSync(output) && statSync(output).mtimeMs >= statSync(source).mtimeMs) process.exit(0);
mkdirSync(dirname(output), { recursive: true });
// Written beside and renamed into place: a training run that has the old file loaded keeps its copy.
const partial = `${output}.${process.pid}.tmp`;
try {
  execFileSync(cc, ['-O3', '-fPIC', '-shared', '-Wall', '-Wextra', '-o', partial, source,
    `-I${nodeHeaders}`, `-I${blasHeaders}`, '-ldl', '-lpthread'], { stdio: ['ignore', 'inherit', 'inherit'] });
  renameSync(partial, output);
} catch (err) {
  skip(`${cc} failed: ${err.message.split('\n')[0]}`);
}
console.log(`built ${output.slice(root.length + 1)}`);
