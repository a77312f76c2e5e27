export * from './apply';
export * from './host';
export * from './mongo-writer';
export * from './projection';
export * from './projection-spec';
export * from './reader';
export * from './registry';
export * from './runner';
