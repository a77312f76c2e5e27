export * from './nest-app';
export * from './forged-token';
