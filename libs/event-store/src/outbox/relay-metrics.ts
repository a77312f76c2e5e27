// The metrics both relays report (relay.ts polls the table, decoding-relay.ts reads the WAL):
// what the broker acknowledged, commit-to-ack latency, who leads, and the rows after the
// published mark in outbox_relay_state.
import type { Meter } from '@opentelemetry/api';
import type { Client } from 'pg';
import { outboxBacklog } from './outbox-table';

export interface RelayMetrics {
  /** Messages the broker acknowledged, with each one's time from its commit (or write) to the ack. */
  published(latenciesSeconds: readonly number[]): void;
}

export function relayMetrics(
  meter: Meter | undefined,
  name: string,
  state: {
    readonly isLeader: () => boolean;
    /** The instance's connection, leading or not: a follower reports the backlog it sees grow. */
    readonly connection: () => Client | undefined;
  },
): RelayMetrics {
  const attributes = { relay: name };
  const counter = meter?.createCounter('outbox_published_messages_total', {
    description: 'Outbox messages acknowledged by the broker',
  });
  const histogram = meter?.createHistogram('outbox_commit_to_ack_seconds', {
    description:
      'From the outbox row being written (polling) or committed (decoding) to the broker acknowledging it',
    unit: 's',
    advice: {
      explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    },
  });
  meter
    ?.createObservableGauge('outbox_is_leader', { description: '1 when this relay instance leads' })
    .addCallback((r) => {
      r.observe(state.isLeader() ? 1 : 0, attributes);
    });
  const backlog = meter?.createObservableGauge('outbox_backlog_messages', {
    description: 'Outbox rows after the published mark',
  });
  const oldest = meter?.createObservableGauge('outbox_oldest_unpublished_age_seconds', {
    description: 'Age of the oldest outbox row after the published mark',
    unit: 's',
  });
  if (backlog && oldest && meter) {
    meter.addBatchObservableCallback(
      async (result) => {
        const client = state.connection();
        if (!client) return;
        const figures = await outboxBacklog(client).catch(() => undefined);
        if (!figures) return;
        result.observe(backlog, figures.unpublished, attributes);
        result.observe(oldest, figures.oldestAgeSeconds, attributes);
      },
      [backlog, oldest],
    );
  }
  return {
    published: (latencies) => {
      counter?.add(latencies.length, attributes);
      if (histogram) for (const s of latencies) histogram.record(s, attributes);
    },
  };
}
