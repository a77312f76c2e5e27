// The e2e suites' way of driving the running system over HTTP, written once: the typed client
// generated from the system's OpenAPI document (libs/api-client) for each service, and the
// steps every saga suite takes (stock in, funds in, an order placed) and the reads it checks
// (an order, a stock item, an account, a payment), each waiting for a version when given one.
import { randomUUID } from 'node:crypto';
import { serviceClient, type ServiceName } from '@es/api-client';
import { INVENTORY_COMMANDS_TOPIC } from '@es/inventory-contracts';
import { contactFor, eventually, identity, kafkaAs, withIdentity } from '@es/testing';

export function systemDriver(baseUrl: (service: ServiceName) => string) {
  // Each request with a token (as the customer its body names, else as the test client).
  const client = <S extends ServiceName>(name: S) =>
    withIdentity(serviceClient(name, baseUrl(name)));
  /** Whose each order placed here is: a cancellation is its customer's act. */
  const customers = new Map<string, string>();
  /** The body of a 200, or the failure with its status and problem. */
  const ok = <T>(r: { data?: T; error?: unknown; response: Response }, what: string): T => {
    if (r.response.status !== 200 || r.data === undefined)
      throw new Error(`${what}: ${r.response.status} ${JSON.stringify(r.error)}`);
    return r.data;
  };
  /** The read waits for this version of the stream; no token without a version. */
  const reflecting = (stream: string, version?: number) =>
    version ? { consistentWith: `${stream}@${version}` } : {};

  const driver = {
    client,
    ok,
    restock: async (sku: string, quantity: number) => {
      const r = await client('inventory-service').POST('/inventory/{sku}/restock', {
        params: { path: { sku }, header: { 'Idempotency-Key': randomUUID() } },
        body: { quantity },
      });
      expect(r.response.status).toBe(202);
    },
    deposit: async (customerId: string, amount: number) => {
      const r = await client('payment-service').POST('/accounts/{customerId}/deposit', {
        params: { path: { customerId }, header: { 'Idempotency-Key': randomUUID() } },
        body: { amount },
      });
      expect(r.response.status).toBe(202);
    },
    place: async (customerId: string, sku: string, quantity: number, unitPrice: number) => {
      const r = await client('order-service').POST('/orders', {
        params: { header: { 'Idempotency-Key': randomUUID() } },
        body: { customerId, items: [{ sku, quantity, unitPrice }], ...contactFor(customerId) },
      });
      expect(r.response.status).toBe(202);
      if (r.data === undefined) throw new Error('an accepted order without its answer');
      customers.set(r.data.orderId, customerId);
      return r.data.orderId;
    },
    /** The Authorization header of the customer who placed the order (here). */
    asCustomerOf: async (orderId: string) => {
      const customer = customers.get(orderId);
      if (!customer) throw new Error(`order ${orderId} was not placed by this driver`);
      return identity.headers({ customer });
    },
    order: async (orderId: string, version?: number) =>
      ok(
        await client('order-service').GET('/orders/{id}', {
          params: { path: { id: orderId }, query: reflecting(`order/${orderId}`, version) },
        }),
        `order ${orderId}`,
      ),
    stock: async (sku: string, version?: number) =>
      ok(
        await client('inventory-service').GET('/inventory/{sku}', {
          params: { path: { sku }, query: reflecting(`stock-item/${sku}`, version) },
        }),
        `stock ${sku}`,
      ),
    account: async (customerId: string, version?: number) =>
      ok(
        await client('payment-service').GET('/accounts/{customerId}', {
          params: { path: { customerId }, query: reflecting(`account/${customerId}`, version) },
        }),
        `account ${customerId}`,
      ),
    /** The payment's answer as it is (a test may expect its 404). */
    payment: (orderId: string) =>
      client('payment-service').GET('/payments/{id}', { params: { path: { id: orderId } } }),
    /**
     * A stuck reservation for an operator to find: a malformed ReserveStock of saga `sagaId`
     * (no lines: the inventory service parks it, cause failed, message `<sagaId>/1`) and a good
     * one of the same saga behind it (parked too, cause behind, message `<sagaId>/1-again`),
     * sent to inventory.commands as the tools' principal.
     */
    stuckReservation: async (sagaId: string, sku: string, quantity: number) => {
      const command = (data: object) =>
        JSON.stringify({ type: 'ReserveStock', version: 1, sagaId, data });
      const producer = kafkaAs('es-tools').producer();
      await producer.connect();
      try {
        await producer.send({
          topic: INVENTORY_COMMANDS_TOPIC,
          messages: [
            {
              key: sagaId,
              value: command({ orderId: sagaId }),
              headers: { 'message-id': `${sagaId}/1` },
            },
            {
              key: sagaId,
              value: command({ orderId: sagaId, lines: [{ sku, quantity }] }),
              headers: { 'message-id': `${sagaId}/1-again` },
            },
          ],
        });
      } finally {
        await producer.disconnect();
      }
    },
  };
  return {
    ...driver,
    /**
     * An order of `quantity` at `unitPrice` for a new customer with funds, of a new SKU with
     * stock, placed and waited for until CONFIRMED; `tag` names them (SKU-<tag>-..., c-<tag>-...).
     */
    confirmedOrder: async (tag: string, quantity: number, unitPrice: number) => {
      const sku = `SKU-${tag}-${randomUUID().slice(0, 8)}`;
      const customerId = `c-${tag.toLowerCase()}-${randomUUID().slice(0, 8)}`;
      await driver.restock(sku, 5);
      await driver.deposit(customerId, 1_000);
      const orderId = await driver.place(customerId, sku, quantity, unitPrice);
      await eventually(
        async () => {
          expect((await driver.order(orderId)).status).toBe('CONFIRMED');
        },
        { timeoutMs: 60_000 },
      );
      return { orderId, sku, customerId };
    },
  };
}
