import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The folders of src/ are the stages of the pipeline: image/ (bytes → bitmap → 28×28), inference/
 * (28×28 → probabilities), predictor/ (joins them), serve/ (HTTP, one face of the predictor), and files/
 * and uploads/ (the predictor over files and generated pictures). An import against that direction is a
 * lint error, so the layout cannot drift back into one room.
 */
const stage = (name) => `^(\\.\\./)+${name}(/|$)`;
const predictorInternals = '^(\\.\\./)+predictor/';
const forbid = (files, rules) => ({
  files,
  rules: {
    'no-restricted-imports': ['error', {
      patterns: rules.map(([regex, message]) => ({ regex, message })),
    }],
  },
});

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'scratch/', 'node_modules/', 'test/jest-environment.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // Worker and optional-module loading use require() on purpose (tfjs-node is optional; sharp's native
      // binary may not load on a platform, and the server then decodes with jimp).
      '@typescript-eslint/no-require-imports': ['error', { allow: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-backend-wasm', 'sharp'] }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Plain CommonJS worker scripts the tests start (no ts-node in the worker).
    files: ['test/fixtures/**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', process: 'readonly', setTimeout: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  forbid(['src/image/**'], [
    [stage('inference'), 'image/ turns bytes into a 28×28 input and knows nothing of the model'],
    [stage('predictor'), 'image/ is used by the predictor, not the other way round'],
    [stage('serve'), 'image/ has no HTTP in it'],
  ]),
  forbid(['src/inference/**'], [
    [stage('image'), 'inference/ takes 28×28 inputs; decoding belongs to image/'],
    [stage('predictor'), 'inference/ is used by the predictor, not the other way round'],
    [stage('serve'), 'inference/ has no HTTP in it; pass what it needs (the closed error) in'],
  ]),
  forbid(['src/predictor/**'], [
    [stage('serve'), 'the predictor serves the CLI and the evaluations too; HTTP uses it, not the other way round'],
  ]),
  ...[['src/serve/**'], ['src/files/**', 'src/uploads/**']].map((files) => forbid(files, [
    [stage('image'), 'use the predictor (src/predictor), not the image stage\'s internals'],
    [stage('inference'), 'use the predictor (src/predictor), not the inference stage\'s internals'],
    [predictorInternals, "import the predictor's public module ('../predictor'), not its files"],
    ...(files[0] === 'src/serve/**' ? [] : [[stage('serve'), 'files/ and uploads/ use the predictor directly, not the HTTP server']]),
  ])),
);
