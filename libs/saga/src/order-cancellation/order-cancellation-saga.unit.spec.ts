// The order cancellation, given/when/then on its own history: the money back, then the stock,
// then the order marked CANCELLED; held while the order's own saga runs; a step that keeps
// failing is retried with back-off and parked, never dropped, and never undoes the customer's
// cancellation.
import { sagaSpec, type SentCommand } from '../engine/saga-spec';
import type { SpecMessage } from '../engine/saga-spec';
import { stepKinds } from '../engine/saga-definition';
import { orderCancellationSaga, type OrderCancellationData } from './order-cancellation-saga';

const t0 = '2026-11-23T10:00:00.000Z';
const at = (ms: number) => new Date(Date.parse(t0) + ms).toISOString();
const data: OrderCancellationData = {
  orderId: 'o-1',
  customerId: 'c-1',
  items: [
    { sku: 'SKU-1', quantity: 2, unitPrice: 1_250 },
    { sku: 'SKU-2', quantity: 1, unitPrice: 99 },
  ],
  total: 2_599,
  reason: 'changed my mind',
};

type Message = SpecMessage<OrderCancellationData>;
const start: Message = { type: 'StartSaga', sagaId: 'o-1', data, at: t0 };
const held: Message = { ...start, held: true };
const release = (ms: number): Message => ({ type: 'ReleaseSaga', at: at(ms) });
const ok = (command: string, ms = 10): Message => ({
  type: 'HandleReply',
  command,
  result: { outcome: 'success', data: {} },
  at: at(ms),
});
const failed = (command: string, code: string, ms = 10): Message => ({
  type: 'HandleReply',
  command,
  result: { outcome: 'failure', failure: { code, message: 'no' } },
  at: at(ms),
});
const tick = (ms: number): Message => ({ type: 'CheckDeadline', at: at(ms) });

const spec = sagaSpec(orderCancellationSaga);
const types = (commands: readonly SentCommand[]) => commands.map((c) => c.type);

describe('order cancellation: its table', () => {
  it('has the customer’s request as its pivot: every step after it must succeed', () => {
    expect(stepKinds(orderCancellationSaga)).toEqual([
      'trigger',
      'retriable',
      'retriable',
      'retriable',
    ]);
    expect(orderCancellationSaga.startsAfter).toBe('order-saga');
  });
});

describe('order cancellation: the happy path', () => {
  it('refunds the order’s payment first (the payment id is the order id)', () => {
    const then = spec.given().when(start);
    expect(then.commands).toEqual([
      { type: 'RefundPayment', topic: 'payments.commands', data: { paymentId: 'o-1' } },
    ]);
    expect(then.state).toMatchObject({ status: 'RUNNING', step: 1 });
  });

  it('then returns every line’s stock, then completes the order’s cancellation', () => {
    const returned = spec.given(start).when(ok('RefundPayment'));
    expect(returned.commands).toEqual([
      {
        type: 'ReturnStock',
        topic: 'inventory.commands',
        data: {
          orderId: 'o-1',
          lines: [
            { sku: 'SKU-1', quantity: 2 },
            { sku: 'SKU-2', quantity: 1 },
          ],
        },
      },
    ]);
    const completing = spec.given(start, ok('RefundPayment')).when(ok('ReturnStock', 20));
    expect(completing.commands).toEqual([
      { type: 'CompleteOrderCancellation', topic: 'orders.commands', data: { orderId: 'o-1' } },
    ]);
    const done = spec
      .given(start, ok('RefundPayment'), ok('ReturnStock', 20))
      .when(ok('CompleteOrderCancellation', 30));
    expect(done.state).toMatchObject({ status: 'COMPLETED', endedAt: at(30) });
    expect(done.events.map((e) => e.type)).toEqual(['SagaReplyReceived', 'SagaCompleted']);
  });

  it('ignores a redelivered request', () => {
    expect(spec.given(start).when(start).events).toEqual([]);
  });
});

describe('order cancellation: held while the order’s saga runs', () => {
  it('sends nothing while held, and says what it waits for', () => {
    const then = spec.given().when(held);
    expect(then.commands).toEqual([]);
    expect(then.events.map((e) => e.type)).toEqual(['SagaStarted', 'SagaHeld']);
    expect(then.state).toMatchObject({ status: 'WAITING', waitingFor: 'order-saga' });
  });

  it('refunds once released, and a second release changes nothing', () => {
    const released = spec.given(held).when(release(300));
    expect(released.events.map((e) => e.type)).toEqual(['SagaReleased', 'SagaCommandSent']);
    expect(types(released.commands)).toEqual(['RefundPayment']);
    expect(released.state).toMatchObject({ status: 'RUNNING', deadlineAt: at(5_300) });
    expect(spec.given(held, release(300)).when(release(500)).events).toEqual([]);
  });

  it('a saga not held ignores a release', () => {
    expect(spec.given(start).when(release(300)).events).toEqual([]);
  });

  it('has no deadline while held: time passing does nothing', () => {
    expect(spec.given(held).when(tick(3_600_000)).events).toEqual([]);
  });
});

describe('order cancellation: a step that fails must still happen', () => {
  it('retries a failed refund after a back-off, never compensating the cancellation', () => {
    const then = spec.given(start).when(failed('RefundPayment', 'PAYMENT_NOT_CAPTURED'));
    expect(then.events.map((e) => e.type)).toEqual(['SagaReplyReceived', 'SagaRetryScheduled']);
    expect(then.state).toMatchObject({ status: 'RUNNING', timer: 'retry', deadlineAt: at(510) });
    const again = spec
      .given(start, failed('RefundPayment', 'PAYMENT_NOT_CAPTURED'))
      .when(tick(510));
    expect(types(again.commands)).toEqual(['RefundPayment']);
    expect(again.state).toMatchObject({ attempt: 2 });
  });

  it('re-sends a step whose reply never came, and parks after five attempts', () => {
    const history: Message[] = [start, ok('RefundPayment')];
    for (let i = 1; i <= 4; i++) history.push(tick(20 + 5_000 * i));
    const parked = spec.given(...history).when(tick(20 + 5_000 * 5));
    expect(parked.state).toMatchObject({
      status: 'PARKED',
      step: 2,
      problem: 'DEADLINE: inventory did not answer ReturnStock within 5000 ms (after 5 attempts)',
    });
    const sent = spec.given(...history).history.filter((e) => e.type === 'SagaCommandSent');
    expect(sent).toHaveLength(6); // one refund, five sendings of the return
    // A late reply to any sending resumes it; the operator's resume does too.
    const late = spec.given(...history, tick(20 + 5_000 * 5)).when(ok('ReturnStock', 30_000));
    expect(types(late.commands)).toEqual(['CompleteOrderCancellation']);
    const resumed = spec
      .given(...history, tick(20 + 5_000 * 5))
      .when({ type: 'ResumeSaga', actor: 'ops', at: at(60_000) });
    expect(types(resumed.commands)).toEqual(['ReturnStock']);
    expect(resumed.state).toMatchObject({ status: 'RUNNING', attempt: 1 });
  });
});
