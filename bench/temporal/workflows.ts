// The order saga and the order cancellation as Temporal workflows: the peer this system's
// orchestrated sagas are measured against (bench/saga-vs-temporal.mts, docs/benchmarks.md).
// The same steps as libs/saga's definitions: create the order, reserve stock, authorize the
// payment, approve (the pivot), commit the stock, capture the payment; a refusal before the
// pivot undoes what was done (release the stock, reject the order). A confirmed order's
// cancellation: refund, return the stock, complete it. Bundled by the Temporal worker's webpack
// (a .ts file: its loader takes no .mts), so it imports nothing but the workflow API and types.
import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type * as activities from './activities.ts';

export interface OrderInput {
  readonly orderId: string;
  readonly customerId: string;
  readonly sku: string;
  readonly quantity: number;
  readonly amount: number;
  /** When the client asked (ms since the epoch); the order's own record is createOrder's. */
  readonly acceptedAt: number;
}

export type OrderOutcome = 'CONFIRMED' | 'REJECTED';

// Retried as this system's commands are redelivered; a refusal (no stock, no funds) is a
// non-retryable failure the saga compensates, as a participant's refusal reply is here.
const act = proxyActivities<typeof activities>({
  startToCloseTimeout: '10 seconds',
  retry: {
    initialInterval: '100 milliseconds',
    backoffCoefficient: 2,
    maximumInterval: '5 seconds',
  },
});

/** A participant's refusal (activities.ts throws it with type `Refused`), or undefined. */
function refusal(error: unknown): string | undefined {
  if (
    error instanceof ActivityFailure &&
    error.cause instanceof ApplicationFailure &&
    error.cause.type === 'Refused'
  )
    return error.cause.message;
  return undefined;
}

export async function orderSaga(order: OrderInput): Promise<OrderOutcome> {
  await act.createOrder(order);
  try {
    await act.reserveStock(order);
  } catch (error) {
    const reason = refusal(error);
    if (reason === undefined) throw error;
    await act.rejectOrder(order.orderId, reason);
    return 'REJECTED';
  }
  try {
    await act.authorizePayment(order);
  } catch (error) {
    const reason = refusal(error);
    if (reason === undefined) throw error;
    await act.releaseStock(order);
    await act.rejectOrder(order.orderId, reason);
    return 'REJECTED';
  }
  await act.approveOrder(order.orderId);
  await act.commitStock(order);
  await act.capturePayment(order.orderId);
  await act.endOrderSaga(order.orderId);
  return 'CONFIRMED';
}

export async function orderCancellation(order: OrderInput): Promise<void> {
  await act.requestCancellation(order.orderId);
  await act.refundPayment(order.orderId);
  await act.returnStock(order);
  await act.completeCancellation(order.orderId);
}
