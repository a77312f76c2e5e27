import type { AggregateDefinition } from '@es/event-store';
import {
  ACCOUNT_STREAM_TYPE,
  PAYMENT_STREAM_TYPE,
  PAYMENTS_EVENTS_TOPIC,
  type AccountEvent,
  type PaymentEvent,
} from '@es/payment-contracts';
import {
  accountDecider,
  paymentDecider,
  type AccountCommand,
  type AccountState,
  type PaymentCommand,
  type PaymentState,
} from '@es/payment-domain';

export const accountAggregate: AggregateDefinition<AccountCommand, AccountEvent, AccountState> = {
  streamType: ACCOUNT_STREAM_TYPE,
  decider: accountDecider,
  topic: PAYMENTS_EVENTS_TOPIC,
  snapshot: { every: 50, schemaVersion: 1 },
};

export const paymentAggregate: AggregateDefinition<PaymentCommand, PaymentEvent, PaymentState> = {
  streamType: PAYMENT_STREAM_TYPE,
  decider: paymentDecider,
  topic: PAYMENTS_EVENTS_TOPIC,
};
