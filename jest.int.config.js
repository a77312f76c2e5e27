// Integration tests on the real engines (PostgreSQL, Kafka, the MongoDB wire protocol).
module.exports = {
  ...require('./jest.preset')('int'),
  globalSetup: '<rootDir>/libs/testing/src/jest/global-setup.ts',
  globalTeardown: '<rootDir>/libs/testing/src/jest/global-teardown.ts',
  setupFiles: ['<rootDir>/libs/testing/src/jest/setup-env.ts'],
  testTimeout: 60_000,
  // Two cores: the engines need one. Suites share the engines but not databases or topics.
  maxWorkers: 1,
};
