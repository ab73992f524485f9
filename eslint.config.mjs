import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'scratch/', 'node_modules/', 'test/jest-environment.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // Worker and optional-module loading use require() on purpose (tfjs-node is optional).
      '@typescript-eslint/no-require-imports': ['error', { allow: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-backend-wasm'] }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
);
