// A projection runner in its own process, for the SIGKILL test: it projects the ledger topic into
// a collection with small chunks and reports each write, so the test can kill it mid-stream.
// Runs the built code (dist); settings come from the environment (KAFKA_BROKERS, KAFKA_SASL, MONGO_URL,
// MONGO_DATABASE, LEDGER_TOPIC, LEDGER_COLLECTION, LEDGER_GROUP).
const { Kafka, logLevel } = require('kafkajs');
const { MongoClient } = require('mongodb');
const { ProjectionRunner } = require('../dist');
const { ledgerProjection } = require('../dist/testing/ledger.projection');

async function main() {
  const env = process.env;
  const client = await new MongoClient(env.MONGO_URL).connect();
  const collection = client.db(env.MONGO_DATABASE).collection(env.LEDGER_COLLECTION);
  let writes = 0;
  const bulkWrite = collection.bulkWrite.bind(collection);
  collection.bulkWrite = async (...args) => {
    const result = await bulkWrite(...args);
    writes++;
    process.stdout.write(`wrote ${writes}\n`);
    return result;
  };
  const kafka = new Kafka({
    clientId: 'projection-child',
    brokers: env.KAFKA_BROKERS.split(','),
    logLevel: logLevel.ERROR,
    // The parent's principal, resolved by the parent (libs/testing childKafkaEnv).
    ...(process.env.KAFKA_SASL ? { sasl: JSON.parse(process.env.KAFKA_SASL) } : {}),
  });
  await new ProjectionRunner({
    kafka,
    projection: ledgerProjection(env.LEDGER_TOPIC),
    collection,
    groupId: env.LEDGER_GROUP,
    generation: 1,
    chunkSize: 25,
  }).start();
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
