import type { Config } from 'jest';

const config: Config = {
  preset: 'ts-jest',
  testEnvironment: '<rootDir>/test/jest-environment.js',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.ts$': ['ts-jest', {}] },
  // The CLI and the serving benchmark are command-line tools (the benchmark spawns servers and wrk): they are run, not unit-tested.
  collectCoverageFrom: ['src/**/*.ts', '!src/cli/**', '!src/bench/**', '!src/index.ts', '!src/**/*-worker.ts'],
  coverageReporters: ['text-summary', 'lcov'],
  // A little under what the suite reached on 2026-11-29 (lines 96.3%, statements 93.7%, functions 94.1%, branches 81.0%).
  coverageThreshold: { global: { lines: 94, statements: 91, functions: 92, branches: 77 } },
  testTimeout: 120_000,
  maxWorkers: 1,
};

export default config;
