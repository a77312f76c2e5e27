export * from './eventually';
export * from './identity';
export * from './kafka';
export * from './mongo';
export * from './postgres';
export * from './services';
export * from './stack';
export * from './tcp-proxy';
