// Idempotency keys on a command that moves money (docs/api.md, Idempotency), on the real
// payment service and PostgreSQL: required, answered once, kept for their retention, then
// purged by the running service, while a Kafka consumer's inbox mark of the same age stays.
import { paymentServiceApi } from '@es/payment-contracts';
import { createTestDatabase, eventually, uniqueName, type TestDatabase } from '@es/testing';
import { http, startTestService, type TestService } from '@es/service-testing';
import { AppModule } from './app.module';

describe('payment-service idempotency keys (real PostgreSQL)', () => {
  let db: TestDatabase;
  let service: TestService;
  const deposit = (customerId: string, amount: number, key: string | false) =>
    http(service.url(`/accounts/${customerId}/deposit`), {
      body: { amount },
      ...(key === false
        ? { idempotencyKey: false as const }
        : { headers: { 'Idempotency-Key': key } }),
    });
  const events = async (customerId: string) =>
    (
      await db.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM events WHERE stream_id = $1',
        [customerId],
      )
    ).rows[0]?.n;
  const kept = async (key: string) =>
    (await db.pool.query('SELECT 1 FROM inbox WHERE message_id = $1', [key])).rowCount;

  beforeAll(async () => {
    db = await createTestDatabase('payment_keys');
    service = await startTestService(paymentServiceApi, AppModule, db.name, {
      IDEMPOTENCY_KEY_RETENTION_HOURS: '1',
      IDEMPOTENCY_PURGE_EVERY_MS: '200',
    });
  });
  afterAll(async () => {
    await service.close();
    await db.drop();
  });

  it('refuses a deposit without a key, naming it, and writes nothing', async () => {
    const customerId = uniqueName('nokey');
    const refused = await deposit(customerId, 500, false);
    expect(refused).toMatchObject({
      status: 400,
      body: { fields: [{ field: 'Idempotency-Key', problem: 'is required' }] },
    });
    expect(await events(customerId)).toBe(0);
  });

  it('deposits once per key, purges the key after its retention, and then takes it as new', async () => {
    const customerId = uniqueName('keyed');
    const key = uniqueName('dep');
    const fresh = uniqueName('dep-fresh');
    const first = await deposit(customerId, 700, key);
    expect(first).toMatchObject({ status: 202, body: { version: 1 } });
    expect(await deposit(customerId, 700, key)).toMatchObject({
      status: 202,
      body: first.body as object,
    });
    expect(await events(customerId)).toBe(1);
    expect(await deposit(uniqueName('other'), 1, fresh)).toMatchObject({ status: 202 });

    // The key ages past the retention (1 hour); a Kafka consumer's mark ages more.
    await db.pool.query(
      "UPDATE inbox SET processed_at = now() - interval '2 hours' WHERE message_id = $1",
      [key],
    );
    await db.pool.query(
      "INSERT INTO inbox (consumer, message_id, processed_at) VALUES ('payment-service', $1, now() - interval '48 hours')",
      [`${key}-kafka`],
    );
    await eventually(async () => {
      expect(await kept(key)).toBe(0);
    });
    expect(await kept(fresh)).toBe(1); // within its retention
    expect(await kept(`${key}-kafka`)).toBe(1); // a consumer's mark is never purged

    // A retry after the retention is a new request: the deposit is made again.
    expect(await deposit(customerId, 700, key)).toMatchObject({
      status: 202,
      body: { version: 2 },
    });
    expect(await events(customerId)).toBe(2);
  });
});
