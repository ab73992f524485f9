import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', process: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
