export * from './operation';
export * from './common';
export * from './openapi';
export * from './platform';
