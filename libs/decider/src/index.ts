export * from './decider';
export * from './decider-spec';
