export * from './inbox-consumer';
export * from './kafka-publisher';
export * from './topics';
export * from './tracing';
export * from './kafka-metrics';
