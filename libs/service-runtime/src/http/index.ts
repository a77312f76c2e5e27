export * from './auth';
export * from './operation';
export * from './problem.filter';
export * from './request-context';
export * from './responses';
export * from './strict-input';
