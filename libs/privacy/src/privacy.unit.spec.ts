import { randomBytes } from 'node:crypto';
import {
  CachedKeyStore,
  ERASED,
  Shredder,
  dataKeyId,
  isSealed,
  masterKey,
  newDataKey,
  open,
  seal,
  unwrapDataKey,
  type DataKey,
  type KeyStore,
  type PersonalData,
  type Sealed,
} from './index';

/** The port kept in memory: wrapped keys, as the table keeps them. */
class MemoryKeyStore implements KeyStore {
  readonly rows = new Map<string, Buffer | null>();
  calls = 0;
  constructor(private readonly master = masterKey(randomBytes(32))) {}
  keyFor(subject: string): Promise<DataKey> {
    this.calls++;
    const generations = [...this.rows.keys()].filter((id) => id.startsWith(`${subject}#`));
    const live = generations.find((id) => this.rows.get(id) !== null);
    if (live) return Promise.resolve(unwrapDataKey(this.master, live, this.rows.get(live)!));
    const made = newDataKey(this.master, subject, generations.length + 1);
    this.rows.set(made.key.id, made.wrapped);
    return Promise.resolve(made.key);
  }
  key(id: string): Promise<DataKey | 'erased'> {
    this.calls++;
    const wrapped = this.rows.get(id);
    if (wrapped === undefined) return Promise.reject(new Error(`no key ${id}`));
    return Promise.resolve(wrapped === null ? 'erased' : unwrapDataKey(this.master, id, wrapped));
  }
  erase(subject: string): Promise<number> {
    let n = 0;
    for (const [id, wrapped] of this.rows)
      if (id.startsWith(`${subject}#`) && wrapped !== null) {
        this.rows.set(id, null);
        n++;
      }
    return Promise.resolve(n);
  }
}

const ORDER: PersonalData = {
  subject: 'customerId',
  fields: ['name', 'email', 'shippingAddress', 'billing.phone'],
};
const placed = {
  orderId: 'o-1',
  customerId: 'c-7f3a',
  name: 'Zbigniew Quellmalz',
  email: 'zq@example.invalid',
  shippingAddress: {
    line1: '17 Rue Ximénès',
    city: 'Quimperlé',
    postalCode: '29300',
    country: 'FR',
  },
  billing: { phone: '+33 6 12 34 56 78', vat: 'none' },
  items: [{ sku: 'A', quantity: 2 }],
};

describe('the envelope', () => {
  const master = masterKey(randomBytes(32));
  const { key } = newDataKey(master, 'c-1', 1);

  it('opens what it sealed, and the sealed form holds none of the value', () => {
    const sealed = seal(key, 'email', 'someone@example.invalid');
    expect(JSON.stringify(sealed)).not.toContain('someone');
    expect(open(key, 'email', sealed)).toBe('someone@example.invalid');
  });

  it('refuses a sealed value moved to another field, another key or altered', () => {
    const sealed = seal(key, 'email', 'x@example.invalid');
    expect(() => open(key, 'name', sealed)).toThrow();
    const other = newDataKey(master, 'c-2', 1).key;
    expect(() => open(other, 'email', sealed)).toThrow(/sealed under c-1#1/);
    const bytes = Buffer.from(sealed.data, 'base64');
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 1, bytes.length - 1);
    expect(() => open(key, 'email', { ...sealed, data: bytes.toString('base64') })).toThrow();
  });

  it('unwraps a data key only with its master key and under its own id', () => {
    const made = newDataKey(master, 'c-3', 2);
    expect(unwrapDataKey(master, dataKeyId('c-3', 2), made.wrapped).key).toEqual(made.key.key);
    expect(() => unwrapDataKey(master, dataKeyId('c-3', 1), made.wrapped)).toThrow();
    expect(() => unwrapDataKey(masterKey(randomBytes(32)), made.key.id, made.wrapped)).toThrow();
  });

  it('takes a master key of 32 bytes only', () => {
    expect(() => masterKey(randomBytes(16))).toThrow(/32 bytes/);
  });
});

describe('the shredder', () => {
  it('seals the declared fields, nested ones too, and leaves the rest in the clear', async () => {
    const shredder = new Shredder(new MemoryKeyStore());
    const sealed = await shredder.seal(placed, ORDER);
    const text = JSON.stringify(sealed);
    for (const secret of ['Zbigniew', 'zq@example', 'Ximénès', 'Quimperlé', '12 34 56'])
      expect({ secret, found: text.includes(secret) }).toEqual({ secret, found: false });
    expect(isSealed(sealed.name) && isSealed(sealed.shippingAddress)).toBe(true);
    expect(sealed.billing.vat).toBe('none');
    expect(sealed.customerId).toBe('c-7f3a');
    expect(sealed.items).toEqual(placed.items);
    expect(await shredder.open(sealed)).toEqual(placed);
  });

  it('gives `erased` for every field once the subject is erased, and nothing else changes', async () => {
    const keys = new MemoryKeyStore();
    const shredder = new Shredder(keys);
    const sealed = await shredder.seal(placed, ORDER);
    expect(await keys.erase('c-7f3a')).toBe(1);
    const read = await shredder.open(sealed);
    expect(read).toEqual({
      ...placed,
      name: ERASED,
      email: ERASED,
      shippingAddress: ERASED,
      billing: { phone: ERASED, vat: 'none' },
    });
    // The same subject writing again gets a new key; the old values stay erased.
    const again = await shredder.seal({ ...placed, name: 'Z. Q.' }, ORDER);
    expect((await shredder.open(again)).name).toBe('Z. Q.');
    expect((await shredder.open(sealed)).name).toEqual(ERASED);
  });

  it('refuses personal data without its subject, and leaves absent fields absent', async () => {
    const shredder = new Shredder(new MemoryKeyStore());
    await expect(shredder.seal({ name: 'A' }, ORDER)).rejects.toThrow(/'customerId' is not set/);
    const bare = { customerId: 'c-1', orderId: 'o' };
    expect(await shredder.seal(bare, ORDER)).toBe(bare);
  });

  it('opens every sealed value where it lies, without the declaration; a moved one does not open', async () => {
    const keys = new MemoryKeyStore();
    const shredder = new Shredder(keys);
    const sealed = await shredder.seal(placed, ORDER);
    expect(await shredder.open({ event: 'OrderCreated', ...sealed })).toEqual({
      event: 'OrderCreated',
      ...placed,
    });
    expect(await shredder.open([1, 'x', null])).toEqual([1, 'x', null]);
    // An upcaster that moved a sealed value elsewhere would have to open it first.
    await expect(shredder.open({ customerId: 'c-7f3a', contact: sealed.email })).rejects.toThrow();
    await keys.erase('c-7f3a');
    expect((await shredder.open(sealed)).billing).toEqual({ phone: ERASED, vat: 'none' });
  });

  it('opens a sealed value a read model keeps deeper, under the same field name', async () => {
    const shredder = new Shredder(new MemoryKeyStore());
    const sealed = await shredder.seal(placed, ORDER);
    const doc = {
      orderId: 'o-1',
      contact: { name: sealed.name, email: sealed.email },
      history: [{ contact: { name: sealed.name } }],
    };
    expect(await shredder.open(doc)).toEqual({
      orderId: 'o-1',
      contact: { name: placed.name, email: placed.email },
      history: [{ contact: { name: placed.name } }],
    });
    // Under another field's name it does not: an email is not a name.
    await expect(shredder.open({ contact: { name: sealed.email } })).rejects.toThrow();
  });

  it('seals at once when the key is in memory, and says so when it is not', async () => {
    const inner = new MemoryKeyStore();
    const shredder = new Shredder(new CachedKeyStore(inner));
    expect(shredder.sealNow(placed, ORDER)).toBeUndefined(); // not made yet: seal() must ask
    const first = await shredder.seal(placed, ORDER);
    inner.calls = 0;
    const now = shredder.sealNow(placed, ORDER);
    expect(inner.calls).toBe(0);
    expect(now?.email).toMatchObject({ sealed: 'v1', key: (first.email as unknown as Sealed).key });
    expect(await shredder.open(now)).toEqual(placed);
    // A store that keeps nothing in memory never seals at once.
    expect(new Shredder(inner).sealNow(placed, ORDER)).toBeUndefined();
  });

  it('never gives two sealed values the same IV, however many are sealed', async () => {
    const shredder = new Shredder(new MemoryKeyStore());
    const ivs = new Set<string>();
    for (let i = 0; i < 1_500; i++) {
      const sealed = await shredder.seal(placed, ORDER);
      for (const field of ['name', 'email'] as const)
        ivs.add(
          Buffer.from((sealed[field] as unknown as Sealed).data, 'base64')
            .subarray(0, 12)
            .toString('hex'),
        );
    }
    expect(ivs.size).toBe(3_000);
  });

  it('seals a field once: sealing a sealed record changes nothing', async () => {
    const shredder = new Shredder(new MemoryKeyStore());
    const sealed = await shredder.seal(placed, ORDER);
    expect(await shredder.seal(sealed, ORDER)).toEqual(sealed);
  });
});

describe('the key cache', () => {
  it('asks the store once per key while fresh, and forgets an erased subject at once', async () => {
    const inner = new MemoryKeyStore();
    let now = 0;
    const keys = new CachedKeyStore(inner, 1_000, 100, () => now);
    const shredder = new Shredder(keys);
    const sealed = await shredder.seal(placed, ORDER);
    inner.calls = 0;
    await shredder.open(sealed);
    await shredder.open(sealed);
    expect(inner.calls).toBe(0); // keyFor's key serves the reads too
    await keys.erase('c-7f3a');
    expect((await shredder.open(sealed)).email).toEqual(ERASED);
    now = 2_000;
    expect((await shredder.open(sealed)).email).toEqual(ERASED);
    expect(inner.calls).toBe(2);
  });

  it("drops a subject another process erased, when told: the next read is the store's", async () => {
    const inner = new MemoryKeyStore();
    const keys = new CachedKeyStore(inner, 60_000);
    const shredder = new Shredder(keys);
    const sealed = await shredder.seal(placed, ORDER);
    expect((await shredder.open(sealed)).email).toBe(placed.email);
    await inner.erase('c-7f3a'); // elsewhere: this cache still holds the key
    expect((await shredder.open(sealed)).email).toBe(placed.email);
    shredder.forget('c-7f3a');
    expect((await shredder.open(sealed)).email).toEqual(ERASED);
  });

  it('gives back a record with nothing sealed as it is, asking no store', async () => {
    const inner = new MemoryKeyStore();
    const shredder = new Shredder(inner);
    const plain = { orderId: 'o-1', items: [{ sku: 'A', quantity: 1 }] };
    expect(await shredder.open(plain)).toBe(plain);
    expect(inner.calls).toBe(0);
  });

  it('shares a lookup under way, and keeps no failed one', async () => {
    const inner = new MemoryKeyStore();
    const keys = new CachedKeyStore(inner);
    const made = await inner.keyFor('c-1');
    inner.calls = 0;
    await Promise.all([keys.key(made.id), keys.key(made.id), keys.key(made.id)]);
    expect(inner.calls).toBe(1);
    await expect(keys.key('c-none#1')).rejects.toThrow(/no key/);
    await expect(keys.key('c-none#1')).rejects.toThrow(/no key/);
    expect(inner.calls).toBe(3);
  });
});
