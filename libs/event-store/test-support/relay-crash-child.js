// A relay in its own process whose publisher, once Kafka has acknowledged a batch, reports it
// and then never returns, so the rows stay unmarked: the test SIGKILLs it right there, between
// the broker's ack and the mark (or the slot's confirmation). Runs the built code (dist);
// settings come from the environment (PG*, KAFKA_BROKERS, KAFKA_SASL, RELAY_NAME, RELAY_MODE).
const { Kafka, logLevel } = require('kafkajs');
const { EventRegistry, createRelay } = require('../dist');
const { KafkaPublisher } = require('@es/messaging');

const kafka = new Kafka({
  clientId: 'relay-crash-child',
  brokers: process.env.KAFKA_BROKERS.split(','),
  logLevel: logLevel.ERROR,
  // The parent's principal, resolved by the parent (libs/testing childKafkaEnv).
  ...(process.env.KAFKA_SASL ? { sasl: JSON.parse(process.env.KAFKA_SASL) } : {}),
});
const inner = new KafkaPublisher(kafka);
const publisher = {
  async publish(batch) {
    await inner.publish(batch);
    process.stdout.write(`acked ${batch.length}\n`);
    await new Promise(() => undefined); // hold here until killed
  },
};
createRelay(process.env.RELAY_MODE, {}, publisher, {
  name: process.env.RELAY_NAME,
  registry: new EventRegistry(),
  batchSize: 40,
  pollIntervalMs: 100,
}).start();
