export * from './operation';
export * from './common';
export * from './openapi';
export * from './platform';
export * from './dead-letters';
export * from './republish';
export * from './streams';
