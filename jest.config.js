/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Type checking is `tsc --noEmit` (npm run typecheck); jest only transpiles.
  transform: { '^.+\\.ts$': 'ts-jest' },
  moduleNameMapper: { '^pgstacks$': '<rootDir>/index.ts' },
  testTimeout: 120000,
  setupFiles: ['<rootDir>/test/support/env.ts'],
  setupFilesAfterEnv: ['<rootDir>/test/support/cleanup.ts'],
};
