// Pure tests: no engine, no network, no clock beyond what a test passes in.
module.exports = { ...require('./jest.preset')('unit') };
