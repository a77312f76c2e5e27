export * from './runtime-config';
export * from './passfile';
