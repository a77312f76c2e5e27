// One order by id: status, lines, total, reasons, the times of each change, and where its saga
// and, once requested, its cancellation are (both saga types share the order's id; the stream
// type tells which). The order's events and the saga's come on different topics, not ordered with each other:
// a saga event projected before OrderCreated is kept on a document that has only `saga` until
// the order's own events arrive (readers treat it as no order yet).
import {
  ORDERS_EVENTS_TOPIC,
  ORDER_DETAILS_READ_MODEL,
  orderEventSchemas,
  orderUpcasters,
  type OrderDetailsDocument,
  type OrderEvent,
  type OrderSagaProgress,
} from '@es/order-contracts';
import { defineProjection, type ProjectedEvent } from '@es/read-models';
import {
  ORDER_CANCELLATION_SAGA_TYPE,
  SAGAS_EVENTS_TOPIC,
  sagaEventSchemas,
  type SagaEvent,
} from '@es/saga-contracts';

/** The document before OrderCreated was projected: only the saga's progress. */
export interface SagaOnlyDocument {
  readonly orderId: string;
  readonly saga?: OrderSagaProgress;
  readonly cancellation?: OrderSagaProgress;
}

type Doc = OrderDetailsDocument | SagaOnlyDocument;

const isOrder = (doc: Doc | null): doc is OrderDetailsDocument => doc !== null && 'status' in doc;

const sagaTypes = new Set<string>(sagaEventSchemas.map((s) => s.type));
const isSagaEvent = (
  event: ProjectedEvent<OrderEvent | SagaEvent>,
): event is ProjectedEvent<SagaEvent> => sagaTypes.has(event.type);

function sagaProgress(
  current: OrderSagaProgress | undefined,
  event: ProjectedEvent<SagaEvent>,
): OrderSagaProgress {
  const base: OrderSagaProgress = current ?? {
    state: 'RUNNING',
    step: null,
    compensating: false,
    updatedAt: event.recordedAt,
    version: 0,
  };
  const next = { ...base, updatedAt: event.recordedAt, version: event.streamVersion };
  switch (event.type) {
    case 'SagaStarted':
      return { ...next, state: 'RUNNING', step: null, compensating: false };
    case 'SagaHeld':
      return { ...next, state: 'WAITING' };
    case 'SagaReleased':
      return { ...next, state: 'RUNNING' };
    case 'SagaCommandSent':
      return {
        ...next,
        step: event.data.command.type,
        compensating: event.data.phase === 'compensation',
      };
    case 'SagaCompensationStarted':
      return { ...next, state: 'COMPENSATING', compensating: true };
    case 'SagaParked':
      return { ...next, state: 'PARKED' };
    case 'SagaResumed':
      return { ...next, state: base.compensating ? 'COMPENSATING' : 'RUNNING' };
    case 'SagaCompleted':
      return { ...next, state: 'COMPLETED' };
    case 'SagaCompensated':
      return { ...next, state: 'COMPENSATED' };
    case 'SagaReplyReceived':
    case 'SagaReplyIgnored':
    case 'SagaDeadlineMissed':
    case 'SagaRetryScheduled':
      return next;
  }
}

export const orderDetails = defineProjection({
  name: ORDER_DETAILS_READ_MODEL,
  description: 'One order by id: status, lines, total, reasons, timestamps, saga step',
  topics: [ORDERS_EVENTS_TOPIC, SAGAS_EVENTS_TOPIC],
  schemas: [...orderEventSchemas, ...sagaEventSchemas],
  upcasters: orderUpcasters,
  // The saga's id is its order's id.
  documentId: (event) => (isSagaEvent(event) ? event.streamId : event.data.orderId),
  evolve(doc: Doc | null, event): Doc | null {
    if (isSagaEvent(event)) {
      const part = event.streamType === ORDER_CANCELLATION_SAGA_TYPE ? 'cancellation' : 'saga';
      const progress = sagaProgress(doc?.[part], event);
      return doc ? { ...doc, [part]: progress } : { orderId: event.streamId, [part]: progress };
    }
    const at = { updatedAt: event.recordedAt, version: event.streamVersion };
    if (event.type === 'OrderCreated') {
      const { orderId, customerId, items, total, createdAt, contact } = event.data;
      return {
        orderId,
        customerId,
        status: 'PENDING',
        items,
        total,
        createdAt,
        // As the event carried it: sealed under the customer's key (the order service opens it).
        ...(contact ? { contact } : {}),
        ...at,
        ...(doc?.saga ? { saga: doc.saga } : {}),
        ...(doc?.cancellation ? { cancellation: doc.cancellation } : {}),
      };
    }
    // An order's first event is OrderCreated, and one stream's events arrive in order.
    if (!isOrder(doc))
      throw new Error(`${event.type} for order ${event.data.orderId}, which was never created`);
    switch (event.type) {
      case 'OrderApproved':
        return { ...doc, status: 'CONFIRMED', approvedAt: event.data.approvedAt, ...at };
      case 'OrderRejected':
        return {
          ...doc,
          status: 'REJECTED',
          rejectionReason: event.data.reason,
          rejectedAt: event.data.rejectedAt,
          ...at,
        };
      case 'OrderCancellationRequested':
        return {
          ...doc,
          cancellationRequestedAt: event.data.requestedAt,
          cancellationReason: event.data.reason,
          ...at,
        };
      case 'OrderCancelled':
        return {
          ...doc,
          status: 'CANCELLED',
          cancellationReason: event.data.reason,
          cancelledAt: event.data.cancelledAt,
          ...at,
        };
    }
  },
});
