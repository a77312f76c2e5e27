// The payment context's domain: pure deciders for a customer account, a payment, and a
// customer as a data subject (their erasures).
export * from './account/account.decider';
export * from './data-subject/data-subject.decider';
export * from './payment/payment.decider';
