// When a rebuilt generation may take over from the live one, partition by partition; and when a
// topic that lost its first events can be rebuilt from a republish.
import type { PartitionLag, RepublishMarker } from '@es/messaging';
import { rebuildCaughtUp, republishPlan, truncatedPartitions } from './host';

const partition = (
  partition: number,
  committed: string | null,
  end: string,
  low = '0',
): PartitionLag => {
  const from = BigInt(committed ?? low);
  return { topic: 't', partition, committed, low, end, lag: Number(BigInt(end) - from) };
};

describe('a rebuild takes over', () => {
  it('once it is as far as the live generation in every partition', () => {
    const live = [partition(0, '10', '10'), partition(1, '7', '8')];
    expect(rebuildCaughtUp([partition(0, '10', '10'), partition(1, '7', '8')], live)).toBe(true);
    expect(rebuildCaughtUp([partition(0, '10', '10'), partition(1, '6', '8')], live)).toBe(false);
  });

  it('not before it has read a partition, however few events that holds', () => {
    // Five events, none read: five behind, within a margin of 20, yet not one document there.
    const live = [partition(0, '5', '5')];
    expect(rebuildCaughtUp([partition(0, null, '5')], live, 20)).toBe(false);
    expect(rebuildCaughtUp([partition(0, '5', '5')], live, 20)).toBe(true);
  });

  it('an empty partition (or one emptied by retention to its end) is no obstacle', () => {
    const live = [partition(0, null, '0'), partition(1, '3', '3', '3')];
    expect(rebuildCaughtUp([partition(0, null, '0'), partition(1, null, '3', '3')], live)).toBe(
      true,
    );
  });

  it('with a margin, that many events behind the live one still counts', () => {
    const live = [partition(0, '100', '100')];
    expect(rebuildCaughtUp([partition(0, '90', '100')], live, 10)).toBe(true);
    expect(rebuildCaughtUp([partition(0, '89', '100')], live, 10)).toBe(false);
  });
});

describe('a topic that lost its first events', () => {
  const marker = (topic: string, from: Record<string, string>, to: Record<string, string>) =>
    [
      topic,
      {
        topic,
        republishId: `r-${topic}`,
        service: 'order-service',
        from,
        to,
        completedAt: '2026-12-04T10:00:00.000Z',
      },
    ] as [string, RepublishMarker];
  const partitions = [
    { topic: 'a.events', partition: 0, low: '5' },
    { topic: 'a.events', partition: 1, low: '0' },
    { topic: 'b.events', partition: 0, low: '0' },
  ];

  it('is truncated past where a rebuild reads it: 0, or where its republish began', () => {
    expect(truncatedPartitions(partitions)).toEqual([
      { topic: 'a.events', partition: 0, low: '5' },
    ]);
    expect(truncatedPartitions(partitions, new Map([['a.events/0', '5']]))).toEqual([]);
    expect(truncatedPartitions(partitions, new Map([['a.events/0', '4']]))).toHaveLength(1);
  });

  it('is read from its latest republish on when that covers every partition from where it began', () => {
    const truncated = truncatedPartitions(partitions);
    const plan = republishPlan(
      truncated,
      partitions,
      new Map([marker('a.events', { 0: '9', 1: '3' }, { 0: '20', 1: '8' })]),
    );
    expect(plan).toEqual({
      topics: [
        {
          topic: 'a.events',
          republishId: 'r-a.events',
          partitions: [
            { partition: 0, from: '9', to: '20' },
            { partition: 1, from: '3', to: '8' },
          ],
        },
      ],
      uncovered: [],
    });
  });

  it('is refused, with the reason, when no republish covers it', () => {
    const truncated = truncatedPartitions(partitions);
    expect(republishPlan(truncated, partitions, new Map()).uncovered).toEqual([
      'no completed republish of a.events puts them back (POST /republish of the store that publishes it, then ask again)',
    ]);
    // The republish began before what was lost: its own first copies are gone too.
    expect(
      republishPlan(
        truncated,
        partitions,
        new Map([marker('a.events', { 0: '4', 1: '3' }, { 0: '20', 1: '8' })]),
      ).uncovered,
    ).toEqual([
      'the latest republish of a.events (r-a.events) does not cover it: partition 0 lost its copies too (from offset 4)',
    ]);
    // A partition the marker does not name (the topic grew since).
    expect(
      republishPlan(truncated, partitions, new Map([marker('a.events', { 0: '9' }, { 0: '20' })]))
        .uncovered,
    ).toEqual([
      'the latest republish of a.events (r-a.events) does not cover it: partition 1 is not in it',
    ]);
  });
});
