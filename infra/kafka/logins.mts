// Which of the given principals cannot log in with the password of the credentials file
// (SASL/SCRAM-SHA-256), printed one a line: `stack.sh up kafka` (infra/local/kafka.sh) sets
// their credentials again. Kafka 3.9 can lose every SCRAM credential a cluster was formatted
// with: once any user's credential has been deleted, a restarted node has none (docs/security.md,
// Kafka). Any error but a refused login stops it (exit 1).
//   node infra/kafka/logins.mts <brokers> <credentials file> <user>...
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as KafkaJs from '../../libs/messaging/node_modules/kafkajs/types/index.d.ts';
import { kafkaPasswordFromFile } from '../../libs/runtime-config/src/passfile.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const kafkajs = createRequire(join(root, 'libs', 'messaging', 'package.json'))(
  'kafkajs',
) as typeof KafkaJs;

const [brokerList, credentialsFile, ...users] = process.argv.slice(2);
if (!brokerList || !credentialsFile || users.length === 0) {
  process.stderr.write('usage: logins.mts <brokers> <credentials file> <user>...\n');
  process.exit(2);
}

for (const user of users) {
  const admin = new kafkajs.Kafka({
    clientId: 'es-login-check',
    brokers: brokerList.split(','),
    sasl: {
      mechanism: 'scram-sha-256',
      username: user,
      password: kafkaPasswordFromFile(credentialsFile, user) ?? '',
    },
    logLevel: kafkajs.logLevel.NOTHING,
    retry: { retries: 2 },
  }).admin();
  try {
    await admin.connect();
  } catch (error) {
    if (!(error instanceof kafkajs.KafkaJSSASLAuthenticationError)) throw error;
    process.stdout.write(`${user}\n`);
  } finally {
    await admin.disconnect();
  }
}
