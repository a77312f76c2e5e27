// kafkajs 2.2.4 (unmaintained) schedules its request queue's check with a negative delay when
// nothing throttles it, which Node 23+ reports as a TimeoutNegativeWarning on stderr: once in
// every service's log, every test and every tool. patches/kafkajs@2.2.4.patch clamps the delay
// to 0 (which runs exactly as soon as the negative one did). A client's whole life, in a process
// of its own as a service's, must print no such warning.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { loadStackEnv, workspaceRoot } from '@es/testing';

const CLIENT = `
  const { createRequire } = require('node:module');
  const { readFileSync } = require('node:fs');
  const { Kafka, logLevel } = createRequire(process.argv[1])('kafkajs');
  const user = process.env.KAFKA_SASL_USERNAME;
  const line = readFileSync(process.env.KAFKA_PASSFILE, 'utf8').split('\\n').find((l) => l.startsWith(user + ':'));
  const admin = new Kafka({
    brokers: process.env.KAFKA_BROKERS.split(','),
    sasl: { mechanism: 'scram-sha-256', username: user, password: line.slice(user.length + 1) },
    logLevel: logLevel.NOTHING,
  }).admin();
  admin.connect().then(() => admin.listTopics()).then(() => admin.disconnect()).then(
    () => console.log('done'),
    (error) => { console.error(error); process.exit(1); },
  );
`;

it('connects, asks and disconnects without a TimeoutNegativeWarning', () => {
  loadStackEnv();
  const run = spawnSync(
    process.execPath,
    ['-e', CLIENT, join(workspaceRoot(), 'libs', 'messaging', 'package.json')],
    { encoding: 'utf8', env: process.env, timeout: 60_000 },
  );
  expect(run.stdout.trim()).toBe('done');
  expect(run.stderr).not.toContain('TimeoutNegativeWarning');
});
