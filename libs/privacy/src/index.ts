export * from './envelope';
export * from './key-store';
export * from './shredder';
