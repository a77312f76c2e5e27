// The payment context's published contract: account and payment events on `payments.events`,
// the saga's commands to payments and its replies.
export * from './payment.events';
export * from './payment.messages';
export * from './payment.read-models';
export * from './payment.http';
