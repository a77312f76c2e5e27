export * from './problem.filter';
export * from './request-context';
export * from './zod.pipe';
export * from './responses';
export * from './strict-input';
