// The inventory service on real PostgreSQL and Kafka: REST restock and reads (from the
// stock-availability read model, built by the projection service as a child process), all-or-none
// reservations under contention from two instances, and its events on inventory.events.
import { CommandBus } from '@nestjs/cqrs';
import {
  INVENTORY_COMMANDS_TOPIC,
  INVENTORY_EVENTS_TOPIC,
  inventoryServiceApi,
} from '@es/inventory-contracts';
import { SAGA_REPLIES_TOPIC } from '@es/saga-contracts';
import {
  collect,
  createTestDatabase,
  eventually,
  startReadSide,
  testKafka,
  uniqueName,
  type ReadSide,
  type TestDatabase,
} from '@es/testing';
import { http, startTestService, type TestService } from '@es/service-testing';
import { AppModule } from './app.module';
import { ReserveStock, type ReservationOutcome } from './inventory.commands';

const metadata = { correlationId: 'corr-inventory', causationId: null };

describe('inventory-service (real PostgreSQL and Kafka)', () => {
  let db: TestDatabase;
  let kafka: ReturnType<typeof testKafka>;
  let a: TestService;
  let b: TestService;
  let readSide: ReadSide;
  const sku = (name: string) => uniqueName(name).toUpperCase();
  const reserve = (
    service: TestService,
    orderId: string,
    lines: { sku: string; quantity: number }[],
  ) => service.app.get(CommandBus).execute(new ReserveStock(orderId, lines, { metadata }));
  /** The stock item's read model; once it reflects `version` when one is given. */
  const stock = (service: TestService, id: string, version?: number) =>
    http<{ onHand: number; reserved: number; available: number; version: number }>(
      service.url(
        `/inventory/${id}${version ? `?consistentWith=${encodeURIComponent(`stock-item/${id}@${version}`)}` : ''}`,
      ),
    );

  beforeAll(async () => {
    db = await createTestDatabase('inventory_svc');
    kafka = testKafka('inventory-int');
    readSide = await startReadSide('rm_inventory');
    // A fresh read side projects the topics from their beginning: allow it time to catch up.
    const env = { MONGO_DATABASE: readSide.database, CONSISTENCY_WAIT_MS: '30000' };
    // Two instances on one database, as two replicas of the service would run.
    a = await startTestService(inventoryServiceApi, AppModule, db.name, env);
    b = await startTestService(inventoryServiceApi, AppModule, db.name, env);
  });
  afterAll(async () => {
    await Promise.all([a.close(), b.close()]);
    await readSide.stop();
    await db.drop();
  });

  it('restocks over REST, shows the stock, and publishes the event keyed by SKU', async () => {
    const id = sku('sku');
    const first = await http(a.url(`/inventory/${id}/restock`), { body: { quantity: 30 } });
    expect(first).toMatchObject({
      status: 202,
      body: { sku: id, version: 1, token: `stock-item/${id}@1` },
    });
    await http(a.url(`/inventory/${id}/restock`), { body: { quantity: 12 } });
    const read = await stock(a, id, 2);
    expect(read.status).toBe(200);
    expect(read.headers.get('etag')).toBe('"2"');
    expect(read.body).toEqual({
      sku: id,
      onHand: 42,
      reserved: 0,
      available: 42,
      updatedAt: expect.any(String) as string,
      version: 2,
    });

    const { rows } = await db.pool.query<{ event_type: string; data: unknown }>(
      `SELECT event_type, data FROM events WHERE stream_type = 'stock-item' AND stream_id = $1 ORDER BY stream_version`,
      [id],
    );
    expect(rows).toEqual([
      { event_type: 'StockRestocked', data: { sku: id, quantity: 30 } },
      { event_type: 'StockRestocked', data: { sku: id, quantity: 12 } },
    ]);
    const messages = await collect(
      kafka,
      INVENTORY_EVENTS_TOPIC,
      (m) => m.filter((x) => x.key === id).length >= 2,
    );
    const mine = messages.filter((m) => m.key === id);
    expect(mine.map((m) => m.headers['event-type'])).toEqual(['StockRestocked', 'StockRestocked']);
    expect(new Set(mine.map((m) => m.partition)).size).toBe(1);
  });

  it('200 concurrent reservations from two instances against stock 50 reserve exactly 50 units', async () => {
    const id = sku('hot');
    await http(a.url(`/inventory/${id}/restock`), { body: { quantity: 50 } });
    const outcomes: ReservationOutcome[] = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        reserve(i % 2 ? a : b, `order-${id}-${i}`, [{ sku: id, quantity: 1 }]),
      ),
    );
    const reserved = outcomes.filter((o) => o.outcome === 'reserved');
    expect(reserved).toHaveLength(50);
    for (const o of outcomes.filter((x) => x.outcome === 'insufficient-stock'))
      expect(o).toMatchObject({ shortages: [{ sku: id, requested: 1, available: 0 }] });
    expect((await stock(b, id, 51)).body).toMatchObject({ onHand: 50, reserved: 50, available: 0 });
    const { rows } = await db.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM events WHERE stream_id = $1 AND event_type = 'StockReserved'`,
      [id],
    );
    expect(Number(rows[0]!.n)).toBe(50);
  });

  it('reserves every line of an order or none, naming each unknown or short SKU', async () => {
    const [plenty, scarce, absent] = [sku('plenty'), sku('scarce'), sku('absent')];
    await http(a.url(`/inventory/${plenty}/restock`), { body: { quantity: 10 } });
    await http(a.url(`/inventory/${scarce}/restock`), { body: { quantity: 2 } });
    const outcome = await reserve(a, 'order-short', [
      { sku: plenty, quantity: 5 },
      { sku: scarce, quantity: 3 },
      { sku: absent, quantity: 1 },
    ]);
    // A SKU never stocked is named as unknown, before any shortage (the order's mistake).
    expect(outcome).toEqual({ outcome: 'unknown-sku', orderId: 'order-short', skus: [absent] });
    expect(
      await reserve(a, 'order-short-2', [
        { sku: plenty, quantity: 5 },
        { sku: scarce, quantity: 3 },
      ]),
    ).toEqual({
      outcome: 'insufficient-stock',
      orderId: 'order-short-2',
      shortages: [{ sku: scarce, requested: 3, available: 2 }],
    });
    expect((await stock(a, plenty, 1)).body).toMatchObject({
      reserved: 0,
      available: 10,
      version: 1,
    });

    // Two lines of one SKU are one reservation of their sum.
    expect(
      await reserve(a, 'order-ok', [
        { sku: plenty, quantity: 5 },
        { sku: scarce, quantity: 1 },
        { sku: scarce, quantity: 1 },
      ]),
    ).toEqual({ outcome: 'reserved', orderId: 'order-ok' });
    expect((await stock(a, scarce, 2)).body).toMatchObject({ reserved: 2, available: 0 });
    expect((await stock(a, plenty, 2)).body).toMatchObject({ reserved: 5, available: 5 });
  });

  it('a retried restock with the same Idempotency-Key answers the same and writes nothing', async () => {
    const id = sku('idem');
    const send = (quantity: number) =>
      http(a.url(`/inventory/${id}/restock`), {
        body: { quantity },
        headers: { 'Idempotency-Key': `restock-${id}` },
      });
    const first = await send(7);
    const again = await send(7);
    expect(again).toMatchObject({ status: 202, body: first.body as object });
    expect((await stock(a, id, 1)).body).toMatchObject({ onHand: 7, version: 1 });
    const reused = await send(8);
    expect(reused).toMatchObject({ status: 422, body: { code: 'IDEMPOTENCY_KEY_REUSED' } });
    expect((await stock(a, id, 1)).body).toMatchObject({ onHand: 7, version: 1 });
  });

  it('answers 400 naming each bad field, 404 for an unknown SKU, 409 for a stale If-Match', async () => {
    const bad = await http(a.url('/inventory/bad%20sku/restock'), { body: { quantity: 1 } });
    expect(bad).toMatchObject({
      status: 400,
      body: {
        fields: [{ field: 'sku', problem: expect.stringMatching(/letters, digits/) as unknown }],
      },
    });
    const badBody = await http(a.url(`/inventory/${sku('x')}/restock`), {
      body: { quantity: 1.5, extra: 1 },
    });
    expect(badBody.body).toMatchObject({
      status: 400,
      fields: [
        { field: 'quantity', problem: 'must be a whole number' },
        { field: 'extra', problem: 'is not a known field' },
      ],
    });
    expect((await http(a.url(`/inventory/${sku('never')}`))).status).toBe(404);

    const id = sku('match');
    await http(a.url(`/inventory/${id}/restock`), { body: { quantity: 1 } });
    const stale = await http(a.url(`/inventory/${id}/restock`), {
      body: { quantity: 1 },
      headers: { 'If-Match': '"0"' },
    });
    expect(stale).toMatchObject({
      status: 409,
      body: { code: 'VERSION_CONFLICT', expectedVersion: 0, actualVersion: 1 },
    });
    const current = await http(a.url(`/inventory/${id}/restock`), {
      body: { quantity: 1 },
      headers: { 'If-Match': '"1"' },
    });
    expect(current).toMatchObject({ status: 202, body: { version: 2 } });
  });

  describe('as a saga participant on inventory.commands', () => {
    const send = async (messageId: string, command: object, key: string) => {
      const producer = kafka.producer();
      await producer.connect();
      try {
        await producer.send({
          topic: INVENTORY_COMMANDS_TOPIC,
          messages: [
            {
              key,
              value: JSON.stringify(command),
              headers: { 'message-id': messageId, 'correlation-id': `corr-${key}` },
            },
          ],
        });
      } finally {
        await producer.disconnect();
      }
    };
    const replies = async (orderId: string, count: number) => {
      const messages = await collect(
        kafka,
        SAGA_REPLIES_TOPIC,
        (m) => m.filter((x) => x.key === orderId).length >= count,
      );
      return messages.filter((m) => m.key === orderId).map((m) => JSON.parse(m.value) as unknown);
    };

    it('records a refusal with its reply: a redelivery after a restock still answers the refusal', async () => {
      const id = sku('short');
      const orderId = uniqueName('order');
      await http(a.url(`/inventory/${id}/restock`), { body: { quantity: 1 } });
      const reserve = {
        type: 'ReserveStock',
        version: 1,
        sagaId: orderId,
        data: { orderId, lines: [{ sku: id, quantity: 3 }] },
      };
      await send(`${orderId}/1`, reserve, orderId);
      const [refused] = await replies(orderId, 1);
      expect(refused).toEqual({
        type: 'Reply',
        command: 'ReserveStock',
        version: 1,
        sagaId: orderId,
        result: {
          outcome: 'failure',
          failure: {
            code: 'INSUFFICIENT_STOCK',
            message: `${id}: 3 requested, 1 available`,
            details: { shortages: [{ sku: id, requested: 3, available: 1 }] },
          },
        },
      });
      // Stock arrives, then the same command is delivered again: handled once, answered once.
      await http(a.url(`/inventory/${id}/restock`), { body: { quantity: 10 } });
      await send(`${orderId}/1`, reserve, orderId);
      // A later command of the same saga (same key, same partition) proves the redelivery was read.
      await send(
        `${orderId}/2`,
        { type: 'ReleaseStock', version: 1, sagaId: orderId, data: { orderId, skus: [id] } },
        orderId,
      );
      const all = await replies(orderId, 2);
      expect(all.map((r) => (r as { command: string }).command)).toEqual([
        'ReserveStock',
        'ReleaseStock',
      ]);
      await eventually(async () => {
        expect((await stock(a, id)).body).toMatchObject({ onHand: 11, reserved: 0 });
      });
    });

    it('returns a cancelled order’s committed stock once, however often the saga asks', async () => {
      const [one, two] = [sku('ret1'), sku('ret2')];
      const orderId = uniqueName('order');
      await http(a.url(`/inventory/${one}/restock`), { body: { quantity: 5 } });
      await http(a.url(`/inventory/${two}/restock`), { body: { quantity: 5 } });
      const lines = [
        { sku: one, quantity: 2 },
        { sku: two, quantity: 1 },
      ];
      const command = (type: string, data: object) => ({
        type,
        version: 1,
        sagaId: orderId,
        saga: 'order-cancellation',
        data: { orderId, ...data },
      });
      await send(`${orderId}/1`, command('ReserveStock', { lines }), orderId);
      await send(`${orderId}/2`, command('CommitStock', { skus: [one, two] }), orderId);
      // The return, re-sent under a new message id (a deadline), and redelivered as it was.
      await send(`${orderId}/3`, command('ReturnStock', { lines }), orderId);
      await send(`${orderId}/4`, command('ReturnStock', { lines }), orderId);
      // A later command on the same key proves the redelivery was read.
      await send(`${orderId}/5`, command('ReleaseStock', { skus: [one] }), orderId);
      const all = await replies(orderId, 5);
      expect(all.map((r) => (r as { command: string }).command)).toEqual([
        'ReserveStock',
        'CommitStock',
        'ReturnStock',
        'ReturnStock',
        'ReleaseStock',
      ]);
      expect(all.slice(2, 4)).toEqual([
        {
          type: 'Reply',
          command: 'ReturnStock',
          version: 1,
          sagaId: orderId,
          saga: 'order-cancellation', // the saga type comes back with the reply
          result: { outcome: 'success', data: { orderId } },
        },
        expect.objectContaining({
          command: 'ReturnStock',
          result: expect.objectContaining({ outcome: 'success' }) as object,
        }),
      ]);
      // On hand = restocked - committed + returned, once.
      expect((await stock(a, one, 4)).body).toMatchObject({ onHand: 5, reserved: 0 });
      expect((await stock(a, two, 4)).body).toMatchObject({ onHand: 5, reserved: 0 });
      const { rows } = await db.pool.query<{ stream_type: string; event_type: string }>(
        `SELECT stream_type, event_type FROM events
          WHERE event_type IN ('StockReturned', 'OrderStockReturned')
            AND (stream_id = $1 OR data->>'orderId' = $1) ORDER BY stream_type`,
        [orderId],
      );
      expect(rows).toEqual([
        { stream_type: 'stock-item', event_type: 'StockReturned' },
        { stream_type: 'stock-item', event_type: 'StockReturned' },
        { stream_type: 'stock-return', event_type: 'OrderStockReturned' },
      ]);
    });

    it('answers a return of a SKU never stocked as UNKNOWN_SKU, changing nothing', async () => {
      const orderId = uniqueName('order');
      const never = sku('never');
      await send(
        `${orderId}/1`,
        {
          type: 'ReturnStock',
          version: 1,
          sagaId: orderId,
          data: { orderId, lines: [{ sku: never, quantity: 1 }] },
        },
        orderId,
      );
      const [reply] = await replies(orderId, 1);
      expect(reply).toMatchObject({
        command: 'ReturnStock',
        result: {
          outcome: 'failure',
          failure: { code: 'UNKNOWN_SKU', details: { skus: [never] } },
        },
      });
      const { rows } = await db.pool.query(`SELECT 1 FROM events WHERE stream_id = $1`, [orderId]);
      expect(rows).toEqual([]);
    });

    it('reserves, commits, and answers each step; a malformed command goes to the DLQ', async () => {
      const id = sku('saga');
      const orderId = uniqueName('order');
      await http(a.url(`/inventory/${id}/restock`), { body: { quantity: 5 } });
      await send(
        `${orderId}/1`,
        {
          type: 'ReserveStock',
          version: 1,
          sagaId: orderId,
          data: { orderId, lines: [{ sku: id, quantity: 2 }] },
        },
        orderId,
      );
      await eventually(async () => {
        expect((await stock(a, id)).body).toMatchObject({ reserved: 2 });
      });
      await send(
        `${orderId}/2`,
        { type: 'CommitStock', version: 1, sagaId: orderId, data: { orderId, skus: [id] } },
        orderId,
      );
      const answered = await replies(orderId, 2);
      expect(answered).toEqual([
        expect.objectContaining({
          command: 'ReserveStock',
          result: { outcome: 'success', data: { orderId } },
        }),
        expect.objectContaining({
          command: 'CommitStock',
          result: { outcome: 'success', data: { orderId } },
        }),
      ]);
      await eventually(async () => {
        expect((await stock(a, id)).body).toMatchObject({ onHand: 3, reserved: 0, available: 3 });
      });
      const { rows } = await db.pool.query<{ correlation: string }>(
        `SELECT metadata->>'correlationId' AS correlation FROM events WHERE stream_id = $1 AND event_type = 'StockReserved'`,
        [id],
      );
      expect(rows).toEqual([{ correlation: `corr-${orderId}` }]);

      const bad = uniqueName('bad');
      await send(
        `${bad}/1`,
        { type: 'ReserveStock', version: 1, sagaId: bad, data: { orderId: bad } },
        bad,
      );
      const dead = await collect(kafka, `${INVENTORY_COMMANDS_TOPIC}.dlq`, (m) =>
        m.some((x) => x.key === bad),
      );
      expect(dead.find((x) => x.key === bad)?.headers['dlq-error']).toMatch(/lines: is required/);
    });

    it('parks a malformed command and the later ones of its saga; over HTTP they are listed, previewed, discarded and redriven, in order', async () => {
      const id = sku('dlq');
      const orderId = uniqueName('parked');
      await http(a.url(`/inventory/${id}/restock`), { body: { quantity: 5 } });
      await send(
        `${orderId}/1`,
        { type: 'ReserveStock', version: 1, sagaId: orderId, data: { orderId } },
        orderId,
      );
      const reserve = {
        type: 'ReserveStock',
        version: 1,
        sagaId: orderId,
        data: { orderId, lines: [{ sku: id, quantity: 2 }] },
      };
      await send(`${orderId}/1-again`, reserve, orderId); // behind the malformed one
      type Letter = { id: string; messageId: string; cause: string; status: string };
      const list = async () =>
        (
          await http<{ deadLetters: Letter[] }>(
            a.url(`/dead-letters?consumer=inventory-service&key=${orderId}`),
          )
        ).body.deadLetters;
      await eventually(async () => {
        expect((await list()).map((l) => [l.messageId, l.cause])).toEqual([
          [`${orderId}/1`, 'failed'],
          [`${orderId}/1-again`, 'behind'],
        ]);
      });
      const [head, behind] = await list();
      const letter = await http(a.url(`/dead-letters/${head!.id}`));
      expect(letter).toMatchObject({
        status: 200,
        body: {
          topic: INVENTORY_COMMANDS_TOPIC,
          key: orderId,
          status: 'parked',
          error: expect.stringMatching(/lines: is required/) as unknown,
          payload: { type: 'ReserveStock', data: { orderId } },
          headers: { 'message-id': `${orderId}/1` },
        },
      });
      // The second one waits behind the first: it cannot go alone.
      const early = await http(a.url(`/dead-letters/${behind!.id}/redrive`), { body: {} });
      expect(early).toMatchObject({
        status: 409,
        body: { code: 'NOT_SEQUENCE_HEAD', head: head!.id },
      });
      const preview = await http(a.url('/consumers/inventory-service/dead-letters/redrive'), {
        body: { key: orderId, dryRun: true },
      });
      expect(preview).toMatchObject({
        status: 200,
        body: {
          dryRun: true,
          handled: 0,
          stillParked: 2,
          letters: [{ outcome: 'would-redrive' }, { outcome: 'would-redrive' }],
        },
      });
      expect((await stock(a, id)).body).toMatchObject({ reserved: 0 });
      // The malformed one is given up on, with a reason; the one behind it is redriven.
      const discarded = await http(a.url(`/dead-letters/${head!.id}/discard`), {
        body: { reason: 'malformed: the saga sent it again whole' },
        headers: { 'X-Actor': 'ops-alice' }, // not trusted: the token's subject is recorded
      });
      expect(discarded).toMatchObject({
        status: 200,
        body: { status: 'discarded', resolvedBy: 'es-tests' },
      });
      expect(
        await http(a.url(`/dead-letters/${head!.id}/discard`), { body: { reason: 'again' } }),
      ).toMatchObject({ status: 409, body: { code: 'NOT_PARKED' } });
      // From the other instance: the store is the service's, not the process's.
      const redriven = await http(b.url('/consumers/inventory-service/dead-letters/redrive'), {
        body: { key: orderId },
      });
      expect(redriven).toMatchObject({
        status: 200,
        body: { handled: 1, failed: 0, stillParked: 0, letters: [{ outcome: 'handled' }] },
      });
      expect(await replies(orderId, 1)).toEqual([
        expect.objectContaining({
          command: 'ReserveStock',
          result: { outcome: 'success', data: { orderId } },
        }),
      ]);
      await eventually(async () => {
        expect((await stock(a, id)).body).toMatchObject({ reserved: 2 });
      });
      expect(await list()).toEqual([]);
      expect(
        await http(a.url('/consumers/nobody/dead-letters/redrive'), { body: {} }),
      ).toMatchObject({
        status: 404,
      });
      expect(
        await http(a.url('/consumers/inventory-service/dead-letters/redrive'), {
          body: { limit: 0 },
        }),
      ).toMatchObject({ status: 400, body: { fields: [{ field: 'limit' }] } });
    });
  });
});
