// The order context's published contract: its events on `orders.events`, the saga's commands
// to it and its replies. The only thing another context may import of the order context.
export * from './order.events';
export * from './order.messages';
export * from './order.read-models';
export * from './order.http';
