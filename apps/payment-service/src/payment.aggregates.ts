import type { AggregateDefinition } from '@es/event-store';
import {
  ACCOUNT_STREAM_TYPE,
  DATA_SUBJECT_STREAM_TYPE,
  PAYMENT_STREAM_TYPE,
  PAYMENTS_EVENTS_TOPIC,
  type AccountEvent,
  type DataSubjectEvent,
  type PaymentEvent,
} from '@es/payment-contracts';
import {
  accountDecider,
  dataSubjectDecider,
  paymentDecider,
  type AccountCommand,
  type AccountState,
  type DataSubjectCommand,
  type DataSubjectState,
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

/** A customer as a data subject: their erasures, published beside their account's events. */
export const dataSubjectAggregate: AggregateDefinition<
  DataSubjectCommand,
  DataSubjectEvent,
  DataSubjectState
> = {
  streamType: DATA_SUBJECT_STREAM_TYPE,
  decider: dataSubjectDecider,
  topic: PAYMENTS_EVENTS_TOPIC,
};
