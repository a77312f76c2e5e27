import { decodeConsistencyToken, encodeConsistencyToken } from './consistency-token';

describe('consistency token', () => {
  it('round-trips a stream and version', () => {
    const token = { stream: { type: 'stock-item', id: 'SKU:blue.42' }, version: 7 };
    const text = encodeConsistencyToken(token);
    expect(text).toBe('stock-item/SKU:blue.42@7');
    expect(decodeConsistencyToken(text)).toEqual(token);
  });

  it.each(['', 'order', 'order/abc', 'order/abc@0', 'order/abc@-1', 'order/a/b@1', 'order/abc@1x'])(
    'refuses %j',
    (text) => {
      expect(decodeConsistencyToken(text)).toBeUndefined();
    },
  );
});
