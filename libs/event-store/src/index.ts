export * from './handler/aggregate';
export * from './handler/command-handler';
export * from './store/errors';
export * from './store/event-store';
export * from './store/registry';
export * from './store/schema';
export * from './store/types';
export * from './store/uuid';
