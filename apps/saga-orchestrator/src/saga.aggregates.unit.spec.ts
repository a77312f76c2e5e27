// The saga's summary row is what deadlines, listings and metrics query: it is derived from the
// state by a typed function, so a state field renamed is a compile error here, not deadlines
// silently stopped.
import { orderSaga, sagaSpec, type OrderSagaData, type SpecMessage } from '@es/saga';
import { orderSagaAggregate, sagaSummary } from './saga.aggregates';

const t0 = '2026-11-23T10:00:00.000Z';
const at = (ms: number) => new Date(Date.parse(t0) + ms).toISOString();
const data: OrderSagaData = {
  orderId: 'o-1',
  customerId: 'c-1',
  items: [{ sku: 'SKU-1', quantity: 1, unitPrice: 100 }],
  total: 100,
};
const start: SpecMessage<OrderSagaData> = { type: 'StartSaga', sagaId: 'o-1', data, at: t0 };
const reply = (command: string, ms: number): SpecMessage<OrderSagaData> => ({
  type: 'HandleReply',
  command,
  result: { outcome: 'success', data: {} },
  at: at(ms),
});

describe('the order saga summary', () => {
  const spec = sagaSpec(orderSaga);

  it('names the step a running saga waits at, and when its wait ends', () => {
    const { state } = spec.given().when(start);
    expect(sagaSummary(orderSaga, state)).toEqual({
      status: 'RUNNING',
      step: 'reserve-stock',
      dueAt: at(orderSaga.deadlineMs),
      startedAt: t0,
    });
  });

  it('has no step and nothing due once the saga ended', () => {
    const { state } = spec
      .given(start, reply('ReserveStock', 10), reply('AuthorizePayment', 20))
      .when(reply('ApproveOrder', 30));
    expect(sagaSummary(orderSaga, state)).toMatchObject({
      status: 'RUNNING',
      step: 'commit-stock',
    });
    const ended = spec
      .given(
        start,
        reply('ReserveStock', 10),
        reply('AuthorizePayment', 20),
        reply('ApproveOrder', 30),
        reply('CommitStock', 40),
      )
      .when(reply('CapturePayment', 50));
    expect(sagaSummary(orderSaga, ended.state)).toEqual({
      status: 'COMPLETED',
      step: null,
      dueAt: null,
      startedAt: t0,
    });
  });
});

describe('a reply as the orchestrator takes it', () => {
  const { decider } = orderSagaAggregate;
  const sent = decider.decide(
    { type: 'StartSaga', sagaId: 'o-1', data, at: t0 },
    decider.initialState(),
  );
  const state = sent.reduce((s, e) => decider.evolve(s, e), decider.initialState());
  const [command] = orderSagaAggregate.messages?.(sent, 'o-1') ?? [];
  const wireId = command && 'messageId' in command ? command.messageId : undefined;
  const answer = (causationId: string | null) =>
    decider.decide(
      {
        type: 'HandleReply',
        command: 'ReserveStock',
        causationId,
        result: { outcome: 'success', data: {} },
        at: at(10),
      },
      state,
    );

  it('answers the command as it went out: its cause is the message id on the wire', () => {
    expect(wireId).toMatch(/^[0-9a-f-]{36}$/);
    expect(answer(wireId ?? null).map((e) => e.type)).toEqual([
      'SagaReplyReceived',
      'SagaCommandSent',
    ]);
  });

  it('is ignored when its cause is another message, the saga numbering included', () => {
    for (const cause of ['o-1/1', '01a2f0f0-0000-7000-8000-000000000000', null])
      expect(answer(cause).map((e) => e.type)).toEqual(['SagaReplyIgnored']);
  });
});
