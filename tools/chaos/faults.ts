// The faults, each injected while the load runs and timed as a window (from the injection to
// the system having what it needs again): a SIGKILL of a service restarted 5 s later, of the
// relay leader of the orders database (a stand-by instance takes the lead), of the Kafka node
// leading the busiest partition (started again 10 s later), a crash restart of PostgreSQL, a
// poison message on every topic a service consumes, a window of events published a second time
// from an event store, a topic that loses what its consumers had read (republished whole from its
// store, its projections rebuilt from there), and a consumer group rebalance (an instance joins,
// then leaves).
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { PostgresEventStore, EventRegistry, republishStream } from '@es/event-store';
import { INVENTORY_EVENTS_TOPIC, stockItemEventSchemas } from '@es/inventory-contracts';
import {
  CUSTOMER_ORDERS_READ_MODEL,
  ORDER_DETAILS_READ_MODEL,
  ORDERS_EVENTS_TOPIC,
  orderUpcasters,
} from '@es/order-contracts';
import { eventually, identity, workspaceRoot } from '@es/testing';
import type { Load } from './load';
import type { ChaosSystem, InstanceName } from './system';

/** Every topic some service consumes (the projections' included). */
export const CONSUMED_TOPICS = [
  'orders.commands',
  'inventory.commands',
  'payments.commands',
  'orders.events',
  'inventory.events',
  'payments.events',
  'sagas.replies',
  'sagas.events',
] as const;

export interface FaultContext {
  readonly system: ChaosSystem;
  readonly load: Load;
  readonly log: (line: string) => void;
  /** What a fault left for the checker: the poison messages' keys by topic. */
  readonly poisoned: Map<string, string>;
}

export interface Fault {
  readonly name: string;
  /** Needs more than one Kafka node. */
  readonly cluster?: boolean;
  inject(ctx: FaultContext): Promise<void>;
}

export interface FaultWindow {
  readonly name: string;
  readonly startedAt: number;
  readonly endedAt: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function killAndRestart(
  instance: InstanceName,
  name = `SIGKILL ${instance}, restarted after 5 s`,
): Fault {
  return {
    name,
    inject: async ({ system }) => {
      await system.instance(instance).kill();
      await sleep(5_000);
      await system.startInstance(instance);
    },
  };
}

/** The order-service instance whose relay leads (its `outbox_is_leader` gauge says 1). */
async function relayLeader(system: ChaosSystem): Promise<InstanceName> {
  for (;;) {
    for (const instance of ['order-service', 'order-service-b'] as const) {
      try {
        const metrics = await (await fetch(system.url(instance, '/metrics'))).text();
        if (/^outbox_is_leader\{[^}]*\} 1$/m.test(metrics)) return instance;
      } catch {
        // restarting
      }
    }
    await sleep(500);
  }
}

/** The harness's client: staff and operator (republish, rebuild, the projections' status). */
const OPERATOR = { client: 'es-bench' };

/** Polls `url` until `done(body)`; fails after `timeoutMs` with the last body seen. */
function until<T>(url: string, done: (body: T) => boolean, timeoutMs: number): Promise<T> {
  return eventually(
    async () => {
      // GET /projections reads every generation's lag and size: under a rebuild's load it
      // took 30 s on FerretDB (the full profile), so it is given a minute.
      const response = await fetch(url, {
        headers: await identity.headers(OPERATOR),
        signal: AbortSignal.timeout(60_000),
      });
      const body = (await response.json()) as T;
      if (!response.ok || !done(body))
        throw new Error(`${url}: not there within ${timeoutMs} ms (${JSON.stringify(body)})`);
      return body;
    },
    { timeoutMs, intervalMs: 500 },
  );
}

async function post(url: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { ...(await identity.headers(OPERATOR)), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** The projections that read orders.events (projection-service). */
const ORDERS_PROJECTIONS = [ORDER_DETAILS_READ_MODEL, CUSTOMER_ORDERS_READ_MODEL, 'order-summary'];

function kafkaAdmin(system: ChaosSystem) {
  return system.kafka.client('chaos');
}

export const FAULTS: Record<string, Fault> = {
  'kill-inventory': killAndRestart('inventory-service'),
  'kill-payment': killAndRestart('payment-service'),
  'kill-orchestrator': killAndRestart('saga-orchestrator'),
  'kill-projections': killAndRestart('projection-service'),
  'kill-order': killAndRestart('order-service-b'),
  'kill-relay-leader': {
    name: 'SIGKILL the orders relay leader, restarted after 5 s',
    inject: async ({ system, log }) => {
      const leader = await relayLeader(system);
      log(`the orders relay leader is ${leader}`);
      await system.instance(leader).kill();
      await sleep(5_000);
      await system.startInstance(leader);
    },
  },
  'kill-broker': {
    name: 'SIGKILL the Kafka node leading orders.events/0, restarted after 10 s',
    cluster: true,
    inject: async ({ system, log }) => {
      const admin = kafkaAdmin(system).admin();
      await admin.connect();
      let leader: number;
      try {
        const metadata = await admin.fetchTopicMetadata({ topics: [ORDERS_EVENTS_TOPIC] });
        const partition = metadata.topics[0]?.partitions.find((p) => p.partitionId === 0);
        if (!partition) throw new Error(`${ORDERS_EVENTS_TOPIC} has no partition 0`);
        leader = partition.leader;
      } finally {
        await admin.disconnect();
      }
      log(`SIGKILL of Kafka node ${leader}`);
      system.kafka.kill(leader);
      await sleep(10_000);
      system.kafka.up();
    },
  },
  'restart-postgres': {
    name: 'PostgreSQL crash restart (immediate stop, start)',
    inject: async () => {
      execFileSync(
        'bash',
        [join(workspaceRoot(), 'infra', 'local', 'stack.sh'), 'crash-restart', 'postgres'],
        {
          stdio: ['ignore', 'ignore', 'pipe'],
          timeout: 120_000,
        },
      );
      await sleep(1_000);
    },
  },
  poison: {
    name: 'a poison message on every consumed topic',
    inject: async ({ system, poisoned }) => {
      const producer = kafkaAdmin(system).producer();
      await producer.connect();
      try {
        for (const topic of CONSUMED_TOPICS) {
          const key = `chaos-poison-${topic}`;
          poisoned.set(topic, key);
          await producer.send({
            topic,
            acks: -1,
            messages: [
              { key, value: 'chaos: this is not JSON {', headers: { 'message-id': randomUUID() } },
            ],
          });
        }
      } finally {
        await producer.disconnect();
      }
    },
  },
  republish: {
    name: 'the last 100 orders and 10 stock items published again from their stores',
    inject: async ({ system, load, log }) => {
      const metadata = { correlationId: `chaos-republish-${randomUUID()}`, causationId: null };
      const headers = { 'republished-by': 'chaos' };
      const orders = new PostgresEventStore(
        system.pool('orders'),
        // Read to publish again, as stored (personal fields sealed): upcasting only.
        new EventRegistry([], orderUpcasters),
      );
      const inventory = new PostgresEventStore(
        system.pool('inventory'),
        new EventRegistry(stockItemEventSchemas),
      );
      let events = 0;
      for (const orderId of [...load.ledger.orders.keys()].slice(-100))
        events += await republishStream(
          orders,
          { type: 'order', id: orderId },
          {},
          {
            topicOf: (type) => (type === 'order' ? ORDERS_EVENTS_TOPIC : undefined),
            metadata,
            headers,
          },
        );
      for (const sku of load.ledger.skus.slice(0, 10))
        events += await republishStream(
          inventory,
          { type: 'stock-item', id: sku },
          {},
          {
            topicOf: (type) => (type === 'stock-item' ? INVENTORY_EVENTS_TOPIC : undefined),
            metadata,
            headers,
          },
        );
      log(`${events} events published again`);
    },
  },
  'lost-topic': {
    name: 'orders.events loses what its consumers had read; republished from the store, its projections rebuilt',
    inject: async ({ system, log }) => {
      // What retention would delete: per partition, up to the oldest offset any group reading
      // the topic has committed (nothing a consumer still needs).
      const admin = kafkaAdmin(system).admin();
      await admin.connect();
      const floor = new Map<number, bigint>();
      try {
        for (const { groupId } of (await admin.listGroups()).groups) {
          const [offsets] = await admin.fetchOffsets({ groupId, topics: [ORDERS_EVENTS_TOPIC] });
          const partitions = offsets?.partitions ?? [];
          if (partitions.every((p) => p.offset === '-1')) continue; // not a reader of it
          for (const { partition, offset } of partitions) {
            const at = offset === '-1' ? 0n : BigInt(offset);
            const known = floor.get(partition);
            floor.set(partition, known === undefined || at < known ? at : known);
          }
        }
        await admin.deleteTopicRecords({
          topic: ORDERS_EVENTS_TOPIC,
          partitions: [...floor].map(([partition, offset]) => ({
            partition,
            offset: offset.toString(),
          })),
        });
      } finally {
        await admin.disconnect();
      }
      const deleted = [...floor.values()].reduce((sum, o) => sum + o, 0n);
      log(`${deleted} events deleted from ${ORDERS_EVENTS_TOPIC}`);
      const started = await post(system.url('order-service', '/republish'), {});
      if (started.status !== 202)
        throw new Error(`republish: ${started.status} ${JSON.stringify(started.body)}`);
      const { id } = started.body as { id: string };
      const done = await until<{ status: string; events: number }>(
        system.url('order-service', `/republish/${id}`),
        (r) => r.status === 'completed' || r.status === 'failed',
        180_000,
      );
      if (done.status !== 'completed') throw new Error(`republish ${id}: ${JSON.stringify(done)}`);
      log(`republish ${id}: ${done.events} events published again`);
      for (const name of ORDERS_PROJECTIONS) {
        const rebuild = await post(
          system.url('projection-service', `/projections/${name}/rebuild`),
          {},
        );
        if (rebuild.status !== 202)
          throw new Error(`rebuild of ${name}: ${rebuild.status} ${JSON.stringify(rebuild.body)}`);
      }
      await until<{
        projections: { name: string; status: string; active: { generation: number } }[];
      }>(
        system.url('projection-service', '/projections'),
        (r) => r.projections.every((p) => p.status === 'live'),
        300_000,
      );
      log(`${ORDERS_PROJECTIONS.join(', ')} rebuilt from the republished topic and live`);
    },
  },
  rebalance: {
    name: 'a payment-service instance joins its groups, then leaves 10 s later',
    inject: async ({ system }) => {
      const extra = await system.startExtra('payment-service');
      await sleep(10_000);
      await extra.stop();
    },
  },
};

/**
 * Runs the faults one after another, recording each one's window. Before each, the system is
 * given `gapMs` of load and then `recovered()`, which waits until what the last fault held back
 * has gone through: faults are separate trials, not one compound outage in which a saga step
 * meets two participants restarting in turn.
 */
export async function injectAll(
  faults: readonly Fault[],
  ctx: FaultContext,
  gapMs: number,
  recovered: () => Promise<void>,
): Promise<FaultWindow[]> {
  const windows: FaultWindow[] = [];
  for (const fault of faults) {
    await recovered();
    await sleep(gapMs);
    const startedAt = Date.now();
    ctx.log(`fault: ${fault.name}`);
    await fault.inject(ctx);
    const endedAt = Date.now();
    ctx.log(`fault over after ${endedAt - startedAt} ms: ${fault.name}`);
    windows.push({ name: fault.name, startedAt, endedAt });
  }
  return windows;
}
