// SIGTERM under load: the service stops taking connections, finishes the requests in flight,
// lets its relay publish what they wrote, and exits 0. Every order it acknowledged (202) is in
// its event store and on Kafka; nothing acknowledged is lost.
import { ORDERS_EVENTS_TOPIC } from '@es/order-contracts';
import { collect, identity, startService, testKafka, contactFor } from '@es/testing';

describe('order-service stopped with SIGTERM while orders arrive', () => {
  it('loses no acknowledged order', async () => {
    const service = await startService({ name: 'order-service', port: 3111 });
    const customerId = `shutdown-${Date.now().toString(36)}`;
    const acknowledged: string[] = [];
    let refused = 0;
    const failed: number[] = [];
    const auth = await identity.headers({ customer: customerId });
    const placeOne = async (i: number) => {
      try {
        const response = await fetch(service.url('/orders'), {
          method: 'POST',
          headers: {
            ...auth,
            'content-type': 'application/json',
            'idempotency-key': `shutdown-${i}-${customerId}`,
            connection: 'close',
          },
          body: JSON.stringify({
            customerId,
            items: [{ sku: `SKU-${i}`, quantity: 1, unitPrice: 100 }],
            ...contactFor(customerId),
          }),
        });
        if (response.status === 202)
          acknowledged.push(((await response.json()) as { orderId: string }).orderId);
        else failed.push(response.status); // a request taken in must be finished, not failed
      } catch {
        refused++; // the listener had closed: not acknowledged, the client knows to retry
      }
    };
    const inFlight = Array.from({ length: 300 }, (_, i) =>
      new Promise((resolve) => setTimeout(resolve, i)).then(() => placeOne(i)),
    );
    await new Promise((resolve) => setTimeout(resolve, 120));
    const stopped = service.stop(20_000);
    await Promise.all(inFlight);
    await stopped;
    expect(await service.whenExited()).toBe(0);
    expect(acknowledged.length).toBeGreaterThan(0);
    expect(failed).toEqual([]);
    expect(acknowledged.length + refused).toBe(300);

    const wanted = new Set(acknowledged);
    const messages = await collect(testKafka('shutdown-e2e'), ORDERS_EVENTS_TOPIC, (m) =>
      [...wanted].every((id) => m.some((x) => x.key === id)),
    );
    const published = new Set(messages.map((m) => m.key));
    expect(acknowledged.filter((id) => !published.has(id))).toEqual([]);
  });
});
