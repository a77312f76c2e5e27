export * from './engine/saga-definition';
export * from '@es/saga-contracts';
export * from './engine/saga.state';
export * from './engine/saga.decider';
export * from './engine/saga-spec';
export * from './order-saga/order-saga';
export * from './order-cancellation/order-cancellation-saga';
