// When a rebuilt generation may take over from the live one, partition by partition.
import type { PartitionLag } from '@es/messaging';
import { rebuildCaughtUp } from './host';

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
