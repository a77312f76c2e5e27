import { uuidv5, uuidv7 } from './uuid';

describe('uuids', () => {
  it('v5 is the RFC 9562 name-based id: the same name, the same id', () => {
    // Python: uuid.uuid5(uuid.NAMESPACE_URL, 'order-saga/o-1/1')
    expect(uuidv5('order-saga/o-1/1')).toBe('c3532181-e856-5378-b132-e0c787169617');
    expect(uuidv5('order-saga/o-1/2')).not.toBe(uuidv5('order-saga/o-1/1'));
  });

  it('v7 is time-ordered and versioned', () => {
    const [a, b] = [uuidv7(1_000), uuidv7(2_000)];
    expect(a < b).toBe(true);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
