// The payment context's domain: pure deciders for a customer account and for a payment.
export * from './account/account.decider';
export * from './payment/payment.decider';
