// The order context's domain: a pure decider (no framework, driver, clock or random ids).
export * from './order/order.commands';
export * from './order/order.decider';
export * from './order/order.state';
