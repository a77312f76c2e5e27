import { sagaSpec, type SentCommand } from '../engine/saga-spec';
import type { ReplyResult } from '@es/saga-contracts';
import type { SpecMessage } from '../engine/saga-spec';
import { orderSaga, type OrderSagaData } from './order-saga';

const t0 = '2026-11-23T10:00:00.000Z';
const at = (ms: number) => new Date(Date.parse(t0) + ms).toISOString();
const data: OrderSagaData = {
  orderId: 'o-1',
  customerId: 'c-1',
  items: [
    { sku: 'SKU-1', quantity: 2, unitPrice: 1_250 },
    { sku: 'SKU-2', quantity: 1, unitPrice: 99 },
  ],
  total: 2_599,
};

type Message = SpecMessage<OrderSagaData>;
const start: Message = { type: 'StartSaga', sagaId: 'o-1', data, at: t0 };
type Reply = Extract<Message, { type: 'HandleReply' }>;
const ok = (command: string, ms = 10): Reply => ({
  type: 'HandleReply',
  command,
  result: { outcome: 'success', data: {} },
  at: at(ms),
});
const failed = (command: string, code: string, message: string, ms = 10): Reply => ({
  type: 'HandleReply',
  command,
  result: { outcome: 'failure', failure: { code, message } } satisfies ReplyResult,
  at: at(ms),
});
const tick = (ms: number): Message => ({ type: 'CheckDeadline', at: at(ms) });
const resume: Message = { type: 'ResumeSaga', actor: 'ops', at: at(600_000) };

const spec = sagaSpec(orderSaga);
const types = (commands: readonly SentCommand[]) => commands.map((c) => c.type);

describe('order saga: the happy path', () => {
  it('starts by reserving every line of the order', () => {
    const then = spec.given().when(start);
    expect(then.commands).toEqual([
      {
        type: 'ReserveStock',
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
    expect(then.state).toMatchObject({ status: 'RUNNING', step: 1, deadlineAt: at(5_000) });
  });

  it('ignores a redelivered start', () => {
    expect(spec.given(start).when(start).events).toEqual([]);
  });

  it('authorizes the order total once stock is reserved', () => {
    expect(spec.given(start).when(ok('ReserveStock')).commands).toEqual([
      {
        type: 'AuthorizePayment',
        topic: 'payments.commands',
        data: { paymentId: 'o-1', orderId: 'o-1', customerId: 'c-1', amount: 2_599 },
      },
    ]);
  });

  it('approves, then commits the stock, then captures the payment, then completes', () => {
    const given = [start, ok('ReserveStock'), ok('AuthorizePayment')];
    expect(
      types(spec.given(start, ok('ReserveStock')).when(ok('AuthorizePayment')).commands),
    ).toEqual(['ApproveOrder']);
    expect(types(spec.given(...given).when(ok('ApproveOrder')).commands)).toEqual(['CommitStock']);
    const committed = [...given, ok('ApproveOrder')];
    expect(types(spec.given(...committed).when(ok('CommitStock')).commands)).toEqual([
      'CapturePayment',
    ]);
    const done = spec.given(...committed, ok('CommitStock')).when(ok('CapturePayment', 50));
    expect(done.commands).toEqual([]);
    expect(done.state).toMatchObject({ status: 'COMPLETED', endedAt: at(50) });
  });

  it('numbers every command it sends: no two share a message id', () => {
    const { history } = spec.given(
      start,
      ok('ReserveStock'),
      ok('AuthorizePayment'),
      tick(20_000),
      tick(40_000),
      ok('ApproveOrder', 40_001),
    );
    const ids = history.flatMap((e) => (e.type === 'SagaCommandSent' ? [e.data.messageId] : []));
    expect(ids).toEqual(['o-1/1', 'o-1/2', 'o-1/3', 'o-1/4', 'o-1/5', 'o-1/6']);
  });
});

describe('order saga: a participant refuses', () => {
  it('out of stock: rejects the order with the reason, attempts no payment', () => {
    const then = spec
      .given(start)
      .when(failed('ReserveStock', 'INSUFFICIENT_STOCK', 'SKU-1: 2 requested, 1 available'));
    expect(then.commands).toEqual([
      {
        type: 'RejectOrder',
        topic: 'orders.commands',
        data: { orderId: 'o-1', reason: 'INSUFFICIENT_STOCK: SKU-1: 2 requested, 1 available' },
      },
    ]);
    expect(then.state).toMatchObject({ status: 'COMPENSATING' });
    const end = spec
      .given(start, failed('ReserveStock', 'INSUFFICIENT_STOCK', 'short'))
      .when(ok('RejectOrder'));
    expect(end.state).toMatchObject({ status: 'COMPENSATED', reason: 'INSUFFICIENT_STOCK: short' });
  });

  it('payment declined: releases the stock, then rejects the order', () => {
    const declined = failed(
      'AuthorizePayment',
      'INSUFFICIENT_FUNDS',
      "the customer's available funds do not cover 2599",
    );
    const then = spec.given(start, ok('ReserveStock')).when(declined);
    expect(then.commands).toEqual([
      {
        type: 'ReleaseStock',
        topic: 'inventory.commands',
        data: { orderId: 'o-1', skus: ['SKU-1', 'SKU-2'] },
      },
    ]);
    const released = spec.given(start, ok('ReserveStock'), declined).when(ok('ReleaseStock'));
    expect(released.commands).toEqual([
      {
        type: 'RejectOrder',
        topic: 'orders.commands',
        data: {
          orderId: 'o-1',
          reason: "INSUFFICIENT_FUNDS: the customer's available funds do not cover 2599",
        },
      },
    ]);
  });

  it('the order is no longer pending at approval (cancelled): voids, releases, rejects', () => {
    const given = [start, ok('ReserveStock'), ok('AuthorizePayment')];
    const notPending = failed('ApproveOrder', 'ORDER_NOT_PENDING', 'order is CANCELLED');
    expect(types(spec.given(...given).when(notPending).commands)).toEqual(['VoidPayment']);
    expect(types(spec.given(...given, notPending).when(ok('VoidPayment')).commands)).toEqual([
      'ReleaseStock',
    ]);
    const end = spec
      .given(...given, notPending, ok('VoidPayment'), ok('ReleaseStock'))
      .when(ok('RejectOrder'));
    expect(end.state).toMatchObject({ status: 'COMPENSATED' });
  });
});

describe('order saga: a reply is taken only when it answers a sending of the awaited step', () => {
  it('the command of the awaited type, but another sending (forged, or of another step): ignored, recorded', () => {
    const reserved = [start, ok('ReserveStock')]; // o-1/1 reserved; o-1/2 is AuthorizePayment
    const forged = spec
      .given(...reserved)
      .when({ ...ok('AuthorizePayment', 20), causationId: 'o-1/1' });
    expect(forged.commands).toEqual([]);
    expect(forged.events).toEqual([
      {
        type: 'SagaReplyIgnored',
        data: {
          command: 'AuthorizePayment',
          outcome: 'success',
          why: 'it answers o-1/1, not a sending of AuthorizePayment (o-1/2)',
          at: at(20),
        },
      },
    ]);
    expect(forged.state).toMatchObject({ status: 'RUNNING', awaiting: 'AuthorizePayment' });
    // The real answer still moves it on.
    const answered = spec
      .given(...reserved, { ...ok('AuthorizePayment', 20), causationId: 'o-1/1' })
      .when({ ...ok('AuthorizePayment', 30), causationId: 'o-1/2' });
    expect(types(answered.commands)).toEqual(['ApproveOrder']);
  });

  it('a reply that names no sending answers none', () => {
    const none = spec.given(start).when({ ...ok('ReserveStock'), causationId: null });
    expect(none.events.map((e) => e.type)).toEqual(['SagaReplyIgnored']);
    const [ignored] = none.events;
    expect(ignored?.type === 'SagaReplyIgnored' && ignored.data.why).toMatch(/answers no command/);
    expect(none.state).toMatchObject({ status: 'RUNNING', awaiting: 'ReserveStock' });
  });

  it('a failure nobody was asked for undoes nothing', () => {
    const forged = spec
      .given(start, ok('ReserveStock'))
      .when({ ...failed('AuthorizePayment', 'DECLINED', 'no', 20), causationId: 'o-1/9' });
    expect(forged.commands).toEqual([]);
    expect(forged.state).toMatchObject({ status: 'RUNNING', awaiting: 'AuthorizePayment' });
  });
});

describe('order saga: deadlines', () => {
  it('does nothing before the deadline', () => {
    expect(spec.given(start).when(tick(4_999)).events).toEqual([]);
  });

  it('a missed reservation is asked once more before anything is undone', () => {
    const again = spec.given(start).when(tick(5_000));
    expect(again.events.map((e) => e.type)).toEqual(['SagaDeadlineMissed', 'SagaCommandSent']);
    expect(types(again.commands)).toEqual(['ReserveStock']);
    expect(again.state).toMatchObject({ status: 'RUNNING', attempt: 2, deadlineAt: at(10_000) });
    // A participant back from a restart answers the first sending (or the second): either counts.
    const answered = spec.given(start, tick(5_000)).when(ok('ReserveStock', 7_000));
    expect(types(answered.commands)).toEqual(['AuthorizePayment']);
    const first = spec
      .given(start, tick(5_000))
      .when({ ...ok('ReserveStock', 7_000), causationId: 'o-1/1' });
    expect(types(first.commands)).toEqual(['AuthorizePayment']);
    const twice = spec
      .given(start, tick(5_000), ok('ReserveStock', 7_000))
      .when(ok('ReserveStock'));
    expect(twice.events.map((e) => e.type)).toEqual(['SagaReplyIgnored']);
  });

  it('a reservation missed twice is undone in case it happened, without waiting: the order is rejected', () => {
    const then = spec.given(start, tick(5_000)).when(tick(10_000));
    expect(then.commands).toEqual([
      {
        type: 'ReleaseStock',
        topic: 'inventory.commands',
        data: { orderId: 'o-1', skus: ['SKU-1', 'SKU-2'] },
      },
      {
        type: 'RejectOrder',
        topic: 'orders.commands',
        data: {
          orderId: 'o-1',
          reason: 'DEADLINE: inventory did not answer ReserveStock within 5000 ms (sent 2 times)',
        },
      },
    ]);
    // The silent participant's answers, whenever they come, are recorded and change nothing.
    expect(then.state).toMatchObject({ status: 'COMPENSATING', awaiting: 'RejectOrder' });
    const missed = [start, tick(5_000), tick(10_000)];
    const end = spec.given(...missed).when(ok('RejectOrder', 10_100));
    expect(end.state).toMatchObject({ status: 'COMPENSATED' });
    const late = spec.given(...missed, ok('RejectOrder', 10_100)).when(ok('ReleaseStock'));
    expect(late.events.map((e) => e.type)).toEqual(['SagaReplyIgnored']);
  });

  it('a late reply after the last deadline is recorded and changes nothing', () => {
    const then = spec.given(start, tick(5_000), tick(10_000)).when(ok('ReserveStock', 11_000));
    expect(then.commands).toEqual([]);
    expect(then.events.map((e) => e.type)).toEqual(['SagaReplyIgnored']);
    expect(then.state).toMatchObject({ status: 'COMPENSATING', awaiting: 'RejectOrder' });
  });

  it('a missed authorization voids the payment, releases the stock, rejects the order', () => {
    const given = [start, ok('ReserveStock'), tick(5_010)];
    expect(types(spec.given(...given).when(tick(10_010)).commands)).toEqual([
      'VoidPayment',
      'ReleaseStock',
    ]);
    expect(types(spec.given(...given, tick(10_010)).when(ok('ReleaseStock')).commands)).toEqual([
      'RejectOrder',
    ]);
  });

  it('a missed approval (the pivot) is asked again, never compensated, then parked', () => {
    const given = [start, ok('ReserveStock'), ok('AuthorizePayment')];
    const again = spec.given(...given).when(tick(5_010));
    expect(types(again.commands)).toEqual(['ApproveOrder']);
    expect(again.state).toMatchObject({ status: 'RUNNING', attempt: 2 });
    const ticks = [1, 2, 3, 4, 5].map((n) => tick(5_010 * n));
    const parked = spec.given(...given, ...ticks.slice(0, 4)).when(ticks[4] as Message);
    expect(parked.commands).toEqual([]);
    expect(parked.state).toMatchObject({ status: 'PARKED', phase: 'forward', attempt: 5 });
    // A late approval still counts: the saga goes on by itself.
    const late = spec.given(...given, ...ticks).when(ok('ApproveOrder', 60_000));
    expect(types(late.commands)).toEqual(['CommitStock']);
    expect(late.state).toMatchObject({ status: 'RUNNING' });
  });
});

describe('order saga: compensations and steps past the pivot must succeed', () => {
  const declined = failed('AuthorizePayment', 'INSUFFICIENT_FUNDS', 'short');
  const compensating = [start, ok('ReserveStock'), declined];

  it('a failed compensation is retried after a back-off, then parked, then resumed', () => {
    const failing = (n: number) => failed('ReleaseStock', 'BROKEN', `attempt ${n}`, n * 100_000);
    const first = spec.given(...compensating).when(failing(1));
    expect(first.commands).toEqual([]);
    expect(first.state).toMatchObject({ timer: 'retry', deadlineAt: at(100_500) });
    expect(spec.given(...compensating, failing(1)).when(tick(100_499)).events).toEqual([]);
    const retried = spec.given(...compensating, failing(1)).when(tick(100_500));
    expect(types(retried.commands)).toEqual(['ReleaseStock']);
    expect(retried.state).toMatchObject({ attempt: 2 });
    // Attempts 2..5 fail too (each re-sent when its back-off is over): parked, not dropped.
    const history: Message[] = [...compensating, failing(1)];
    for (let n = 2; n <= 4; n++) history.push(tick(n * 100_000 - 1), failing(n));
    history.push(tick(5 * 100_000 - 1));
    const parked = spec.given(...history).when(failing(5));
    expect(parked.state).toMatchObject({
      status: 'PARKED',
      phase: 'compensation',
      problem: 'BROKEN: attempt 5 (after 5 attempts)',
    });
    expect(spec.given(...history, failing(5)).when(tick(10_000_000)).events).toEqual([]);
    const resumed = spec.given(...history, failing(5)).when(resume);
    expect(types(resumed.commands)).toEqual(['ReleaseStock']);
    expect(resumed.state).toMatchObject({ status: 'COMPENSATING', attempt: 1 });
    const end = spec.given(...history, failing(5), resume).when(ok('ReleaseStock', 700_000));
    expect(types(end.commands)).toEqual(['RejectOrder']);
  });

  it('a step past the pivot that fails is retried, never compensated', () => {
    const approved = [start, ok('ReserveStock'), ok('AuthorizePayment'), ok('ApproveOrder')];
    const then = spec.given(...approved).when(failed('CommitStock', 'RESERVATION_NOT_FOUND', 'x'));
    expect(then.commands).toEqual([]);
    expect(then.state).toMatchObject({ status: 'RUNNING', timer: 'retry' });
  });

  it('resuming a saga that is not parked is refused', () => {
    expect(spec.given(start).when(resume).error?.code).toBe('SAGA_NOT_PARKED');
    expect(spec.given().when(resume).error?.code).toBe('SAGA_NOT_FOUND');
  });

  it('a reply for a saga that does not exist records nothing', () => {
    expect(spec.given().when(ok('ReserveStock')).events).toEqual([]);
  });
});

describe('order saga: any course of replies and deadlines', () => {
  // A small deterministic generator: each awaited command gets a success, a failure or silence.
  function* outcomes(seed: number): Generator<'success' | 'failure' | 'silence'> {
    let x = seed;
    for (;;) {
      x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
      yield (['success', 'failure', 'silence'] as const)[x % 3] ?? 'success';
    }
  }

  it('always ends completed, compensated or parked, undoing exactly what it began', () => {
    const ended: Record<string, number> = {};
    for (let seed = 1; seed <= 300; seed++) {
      const choices = outcomes(seed);
      let clock = 0;
      let { state, history } = spec.given(start);
      const log: Message[] = [start];
      for (let i = 0; i < 200 && 'step' in state && state.status !== 'PARKED'; i++) {
        clock += 1_000;
        const awaiting = state.awaiting;
        const choice = choices.next().value as 'success' | 'failure' | 'silence';
        const message: Message =
          awaiting === null || choice === 'silence'
            ? tick(clock + 60_000)
            : choice === 'success'
              ? ok(awaiting, clock)
              : failed(awaiting, 'NO', 'refused', clock);
        if (awaiting === null || choice === 'silence') clock += 60_000;
        log.push(message);
        ({ state, history } = spec.given(...log));
      }
      expect(['COMPLETED', 'COMPENSATED', 'PARKED']).toContain(state.status);
      ended[state.status] = (ended[state.status] ?? 0) + 1;
      const sent = history.flatMap((e) =>
        e.type === 'SagaCommandSent' ? [e.data.command.type] : [],
      );
      if (state.status === 'COMPLETED') {
        expect(sent).toEqual(
          expect.arrayContaining(['ApproveOrder', 'CommitStock', 'CapturePayment']),
        );
        expect(sent).not.toContain('RejectOrder');
        expect(sent).not.toContain('VoidPayment');
      }
      if (state.status === 'COMPENSATED') {
        // Compensated in reverse: whatever was begun is undone, and the order rejected last.
        expect(sent.at(-1)).toBe('RejectOrder');
        // A step refused outright did nothing; one that succeeded or never answered is undone.
        const refused = history.flatMap((e) =>
          e.type === 'SagaReplyReceived' &&
          e.data.phase === 'forward' &&
          e.data.outcome === 'failure'
            ? [e.data.command]
            : [],
        );
        for (const [step, undo] of [
          ['ReserveStock', 'ReleaseStock'],
          ['AuthorizePayment', 'VoidPayment'],
        ] as const) {
          if (sent.includes(step) && !refused.includes(step)) expect(sent).toContain(undo);
          if (!sent.includes(step) || refused.includes(step)) expect(sent).not.toContain(undo);
        }
        expect(sent).not.toContain('CommitStock');
        expect(sent).not.toContain('CapturePayment');
      }
    }
  });
});
