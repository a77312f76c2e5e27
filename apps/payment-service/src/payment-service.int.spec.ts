// The payment service on real PostgreSQL and Kafka: deposits over REST, and a payment's life
// (authorize or decline, capture, void, refund) changing the payment and the account together.
// Accounts are read from the customer-account read model, built by the projection service (a
// child process); each read names the account version it expects, as a consistency token.
import { CommandBus } from '@nestjs/cqrs';
import { PAYMENTS_EVENTS_TOPIC, paymentServiceApi } from '@es/payment-contracts';
import {
  collect,
  createTestDatabase,
  startReadSide,
  eventually,
  testKafka,
  uniqueName,
  type ReadSide,
  type TestDatabase,
} from '@es/testing';
import { http, startTestService, type TestService } from '@es/service-testing';
import type { PostgresEventStore } from '@es/event-store';
import { EVENT_STORE } from '@es/service-runtime';
import { AppModule } from './app.module';
import { AuthorizePayment, SettlePayment } from './payments.commands';

const metadata = { correlationId: 'corr-payment', causationId: null };

describe('payment-service (real PostgreSQL and Kafka)', () => {
  let db: TestDatabase;
  let kafka: ReturnType<typeof testKafka>;
  let service: TestService;
  let readSide: ReadSide;
  const bus = () => service.app.get(CommandBus);
  const account = (customerId: string, version?: number) =>
    http(
      service.url(
        `/accounts/${customerId}${version ? `?consistentWith=${encodeURIComponent(`account/${customerId}@${version}`)}` : ''}`,
      ),
    );
  const payment = (paymentId: string) => http(service.url(`/payments/${paymentId}`));
  const deposit = (customerId: string, amount: number, headers: Record<string, string> = {}) =>
    http(service.url(`/accounts/${customerId}/deposit`), { body: { amount }, headers });
  const authorize = (customerId: string, paymentId: string, amount: number) =>
    bus().execute(
      new AuthorizePayment(
        { paymentId, orderId: `order-${paymentId}`, customerId, amount },
        { metadata },
      ),
    );
  const settle = (paymentId: string, action: 'capture' | 'void' | 'refund') =>
    bus().execute(new SettlePayment(paymentId, action, { metadata }));

  beforeAll(async () => {
    db = await createTestDatabase('payment_svc');
    kafka = testKafka('payment-int');
    readSide = await startReadSide('rm_payment');
    // A fresh read side projects the topics from their beginning: allow it time to catch up.
    service = await startTestService(paymentServiceApi, AppModule, db.name, {
      MONGO_DATABASE: readSide.database,
      CONSISTENCY_WAIT_MS: '30000',
    });
  });
  afterAll(async () => {
    await service.close();
    await readSide.stop();
    await db.drop();
  });

  it('deposits over REST, idempotently, and publishes the event keyed by customer', async () => {
    const customerId = uniqueName('cust');
    const key = uniqueName('dep');
    const first = await deposit(customerId, 10_000, { 'Idempotency-Key': key });
    expect(first).toMatchObject({
      status: 202,
      body: { customerId, version: 1, token: `account/${customerId}@1` },
    });
    expect(await deposit(customerId, 10_000, { 'Idempotency-Key': key })).toMatchObject({
      status: 202,
      body: first.body as object,
    });
    expect((await account(customerId, 1)).body).toEqual({
      customerId,
      balance: 10_000,
      reserved: 0,
      available: 10_000,
      recentPayments: [],
      updatedAt: expect.any(String) as string,
      version: 1,
    });
    const messages = await collect(kafka, PAYMENTS_EVENTS_TOPIC, (m) =>
      m.some((x) => x.key === customerId),
    );
    expect(
      messages.filter((m) => m.key === customerId).map((m) => m.headers['event-type']),
    ).toEqual(['FundsDeposited']);
  });

  it('authorizes while funds suffice and records a typed decline when they do not', async () => {
    const customerId = uniqueName('cust');
    await deposit(customerId, 10_000);
    const [p1, p2] = [uniqueName('pay'), uniqueName('pay')];
    expect(await authorize(customerId, p1, 6_000)).toEqual({
      outcome: 'authorized',
      paymentId: p1,
    });
    expect(await authorize(customerId, p2, 6_000)).toEqual({
      outcome: 'declined',
      paymentId: p2,
      reason: 'INSUFFICIENT_FUNDS',
      amount: 6_000,
      available: 4_000,
    });
    expect((await account(customerId, 2)).body).toMatchObject({
      balance: 10_000,
      reserved: 6_000,
      available: 4_000,
    });
    expect((await payment(p1)).body).toMatchObject({
      status: 'AUTHORIZED',
      amount: 6_000,
      customerId,
    });
    expect((await payment(p2)).body).toMatchObject({
      status: 'DECLINED',
      declineReason: 'INSUFFICIENT_FUNDS',
    });

    // The hold and the authorization are one transaction.
    const { rows } = await db.pool.query<{
      stream_type: string;
      event_type: string;
      transaction_id: string;
    }>(
      `SELECT stream_type, event_type, transaction_id::text FROM events
       WHERE (stream_type = 'payment' AND stream_id = $1) OR (stream_type = 'account' AND stream_id = $2 AND event_type = 'FundsReserved')`,
      [p1, customerId],
    );
    expect(rows.map((r) => r.event_type).sort()).toEqual(['FundsReserved', 'PaymentAuthorized']);
    expect(new Set(rows.map((r) => r.transaction_id)).size).toBe(1);
  });

  it('a redelivered authorization answers what was recorded: a decline stays a decline', async () => {
    const customerId = uniqueName('cust');
    await deposit(customerId, 500);
    const paymentId = uniqueName('pay');
    const details = { paymentId, orderId: `order-${paymentId}`, customerId, amount: 800 };
    const inbox = { consumer: 'payments-saga', messageId: uniqueName('msg') };
    const send = (messageId: string) =>
      bus().execute(new AuthorizePayment(details, { metadata, inbox: { ...inbox, messageId } }));
    const declined = {
      outcome: 'declined',
      paymentId,
      reason: 'INSUFFICIENT_FUNDS',
      amount: 800,
      available: 500,
    };
    expect(await send(inbox.messageId)).toEqual(declined);
    await deposit(customerId, 1_000); // funds arrive before the redelivery
    expect(await send(inbox.messageId)).toEqual(declined); // the same message again
    expect(await send(uniqueName('msg'))).toEqual(declined); // the same payment, re-sent
    expect((await account(customerId, 2)).body).toMatchObject({ balance: 1_500, reserved: 0 });
    const other = uniqueName('pay');
    const authorized = new AuthorizePayment(
      { ...details, paymentId: other },
      { metadata, inbox: { ...inbox, messageId: `m-${other}` } },
    );
    expect(await bus().execute(authorized)).toEqual({ outcome: 'authorized', paymentId: other });
    expect(await bus().execute(authorized)).toEqual({ outcome: 'authorized', paymentId: other });
    expect((await account(customerId, 3)).body).toMatchObject({ reserved: 800 });
  });

  it('captures, refunds once however often asked, and refuses to void a captured payment', async () => {
    const customerId = uniqueName('cust');
    await deposit(customerId, 5_000);
    const id = uniqueName('pay');
    await authorize(customerId, id, 2_000);
    await settle(id, 'capture');
    await settle(id, 'capture');
    expect((await account(customerId, 3)).body).toMatchObject({
      balance: 3_000,
      reserved: 0,
      available: 3_000,
    });
    // A refusal is an answer (the saga's reply), not an exception.
    await expect(settle(id, 'void')).resolves.toMatchObject({
      outcome: 'refused',
      code: 'PAYMENT_ALREADY_CAPTURED',
    });
    await Promise.all([settle(id, 'refund'), settle(id, 'refund'), settle(id, 'refund')]);
    expect((await account(customerId, 4)).body).toMatchObject({ balance: 5_000, reserved: 0 });
    expect((await payment(id)).body).toMatchObject({ status: 'REFUNDED' });
  });

  it('voids an authorization, giving the hold back', async () => {
    const customerId = uniqueName('cust');
    await deposit(customerId, 1_000);
    const id = uniqueName('pay');
    await authorize(customerId, id, 1_000);
    expect((await account(customerId, 2)).body).toMatchObject({ available: 0 });
    await settle(id, 'void');
    await settle(id, 'void');
    expect((await account(customerId, 3)).body).toMatchObject({
      balance: 1_000,
      reserved: 0,
      available: 1_000,
    });
    expect((await payment(id)).body).toMatchObject({ status: 'VOIDED' });
    await expect(settle(uniqueName('none'), 'capture')).resolves.toMatchObject({
      outcome: 'refused',
      code: 'PAYMENT_NOT_FOUND',
    });
  });

  it('a refund asked of an authorization never captured voids it: the hold back, nothing credited', async () => {
    const customerId = uniqueName('cust');
    await deposit(customerId, 1_000);
    const id = uniqueName('pay');
    await authorize(customerId, id, 600);
    await Promise.all([settle(id, 'refund'), settle(id, 'refund')]);
    // Deposited, held, released: the balance never moved, no credit was made.
    expect((await account(customerId, 3)).body).toMatchObject({
      balance: 1_000,
      reserved: 0,
      available: 1_000,
    });
    expect((await payment(id)).body).toMatchObject({ status: 'VOIDED' });
    const { rows } = await db.pool.query<{ event_type: string }>(
      `SELECT event_type FROM events WHERE stream_id = $1 ORDER BY stream_version`,
      [customerId],
    );
    expect(rows.map((r) => r.event_type)).toEqual([
      'FundsDeposited',
      'FundsReserved',
      'FundsReleased',
    ]);
  });

  it("records an account's holder sealed, answers it opened, and erases it for good", async () => {
    const customerId = uniqueName('cust');
    const holder = { name: 'Philippa Quenby-Strathearn', email: 'pqs.erasable@example.invalid' };
    const recorded = await http<{ version: number }>(
      service.url(`/accounts/${customerId}/holder`),
      { body: holder },
    );
    expect(recorded).toMatchObject({ status: 202, body: { customerId, version: 1 } });
    await deposit(customerId, 500);
    const stored = async () =>
      (
        await db.pool.query<{ text: string }>(
          `SELECT string_agg(data::text, ' ') AS text FROM events WHERE stream_id = $1`,
          [customerId],
        )
      ).rows[0]?.text ?? '';
    expect(await stored()).toContain(`"key": "${customerId}#1"`);
    for (const value of Object.values(holder)) expect(await stored()).not.toContain(value);
    expect((await account(customerId, 2)).body).toMatchObject({ balance: 500, holder });

    // A customer may not erase anyone, themselves included: it is an operator's act.
    const asCustomer = await http(service.url(`/customers/${customerId}/erase`), {
      body: {},
      as: { customer: customerId },
    });
    expect(asCustomer.status).toBe(403);
    const key = uniqueName('erase');
    const erase = () =>
      http<Record<string, unknown>>(service.url(`/customers/${customerId}/erase`), {
        body: {},
        headers: { 'Idempotency-Key': key },
      });
    const erased = await erase();
    expect(erased).toMatchObject({
      status: 202,
      body: { customerId, keysErased: 1, version: 1, token: `data-subject/${customerId}@1` },
    });
    // Retried, it answers as it first did and records nothing more.
    expect(await erase()).toMatchObject({ status: 202, body: erased.body });
    const { rows } = await db.pool.query<{ data: Record<string, unknown>; metadata: object }>(
      `SELECT data, metadata FROM events WHERE stream_type = 'data-subject' AND stream_id = $1`,
      [customerId],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]?.data).toMatchObject({ customerId, keysErased: 1 });
    for (const value of Object.values(holder)) expect(JSON.stringify(rows[0])).not.toContain(value);

    // The read model blanks the holder on DataSubjectErased; the account itself stays.
    await eventually(async () => {
      expect((await account(customerId)).body).toMatchObject({
        balance: 500,
        version: 2,
        holder: { name: { erased: true }, email: { erased: true } },
      });
    });
    // The events are as they were, and no longer open: every read gives the marker.
    const store = service.app.get<PostgresEventStore>(EVENT_STORE);
    const [named] = await store.readStream({ type: 'account', id: customerId }, { open: true });
    expect(named?.data).toEqual({
      customerId,
      name: { erased: true },
      email: { erased: true },
      recordedAt: expect.any(String) as string,
    });
    const rekeyed = await http(service.url(`/accounts/${customerId}/holder`), {
      body: { name: 'P. Q.-S.', email: 'new@example.invalid' },
    });
    // Coming back, they get a new key: what was sealed under the old stays erased.
    expect(rekeyed.status).toBe(202);
    expect(await stored()).toContain(`"key": "${customerId}#2"`);
    const { rowCount } = await db.pool.query('SELECT 1 FROM events WHERE stream_id = $1', [
      customerId,
    ]);
    expect(rowCount).toBe(4);
  });

  it('answers 400 naming each bad field and 404 for unknown ids', async () => {
    const customerId = uniqueName('cust');
    expect(await deposit(customerId, -5)).toMatchObject({
      status: 400,
      body: { fields: [{ field: 'amount', problem: 'must be greater than 0' }] },
    });
    expect(await deposit(customerId, 1.5)).toMatchObject({
      status: 400,
      body: { fields: [{ field: 'amount', problem: 'must be a whole number' }] },
    });
    expect(
      await http(service.url(`/accounts/${customerId}/deposit`), { body: { amount: '5' } }),
    ).toMatchObject({
      status: 400,
      body: { fields: [{ field: 'amount', problem: 'must be a number' }] },
    });
    expect((await account(customerId)).status).toBe(404);
    expect((await payment('no-such-payment')).status).toBe(404);
  });
});
