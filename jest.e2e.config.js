// End-to-end tests: the services as real processes over HTTP, on the real engines.
module.exports = {
  ...require('./jest.preset')('e2e'),
  globalSetup: '<rootDir>/libs/testing/src/jest/global-setup.ts',
  globalTeardown: '<rootDir>/libs/testing/src/jest/global-teardown.ts',
  setupFiles: ['<rootDir>/libs/testing/src/jest/setup-env.ts'],
  testTimeout: 120_000,
  maxWorkers: 1,
};
