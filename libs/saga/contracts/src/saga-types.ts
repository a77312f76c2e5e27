/** The saga types the orchestrator runs (each its own stream type in the `sagas` database). */
export const ORDER_SAGA_TYPE = 'order-saga';
export const ORDER_CANCELLATION_SAGA_TYPE = 'order-cancellation';
export const SAGA_TYPES = [ORDER_SAGA_TYPE, ORDER_CANCELLATION_SAGA_TYPE] as const;
export type SagaType = (typeof SAGA_TYPES)[number];
