// The saga's published contract: every event of a saga's stream, on `sagas.events` keyed by the
// saga's id (its order's id; an order's saga and its cancellation share it, their stream types
// tell them apart). The read side shows a saga's progress from them.
export * from './participant-protocol';
export * from './saga.events';

export const SAGAS_EVENTS_TOPIC = 'sagas.events';

export * from './saga-types';
export * from './saga.http';
