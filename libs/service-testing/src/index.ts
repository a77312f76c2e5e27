export * from './nest-app';
