import type { Config } from 'jest';

const config: Config = {
  preset: 'ts-jest',
  testEnvironment: '<rootDir>/test/jest-environment.js',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.ts$': ['ts-jest', {}] },
  collectCoverageFrom: ['src/**/*.ts', '!src/cli/**', '!src/index.ts', '!src/**/*-worker.ts'],
  coverageReporters: ['text-summary', 'lcov'],
  testTimeout: 120_000,
  maxWorkers: 1,
};

export default config;
