// The inventory context's domain: a pure stock item decider per SKU.
export * from './stock-item/stock-item.commands';
export * from './stock-item/stock-item.decider';
export * from './stock-item/stock-item.state';
export * from './stock-return/stock-return.decider';
