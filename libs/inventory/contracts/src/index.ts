// The inventory context's published contract: stock item events on `inventory.events`, the
// saga's commands to inventory and its replies.
export * from './inventory.messages';
export * from './stock-item.events';
export * from './inventory.read-models';
export * from './inventory.http';
