// The payment service's HTTP API (docs/api.md). Authorizing, capturing and refunding are the
// saga's, over Kafka.
import {
  readAnswers,
  acceptedSchema,
  commandExchange,
  consistentReadAnswers,
  consistentRead,
  defineOperation,
  deadLetterOperations,
  republishOperations,
  streamOperations,
  platformOperations,
  type ServiceApi,
} from '@es/http-api';
import { emailAddress, identifier, money, personName, positiveInt, z } from '@es/schema';
import { ACCOUNT_STREAM_TYPE } from './payment.events';
import { customerAccountAnswerSchema } from './payment.read-models';

const customer = z.strictObject({ customerId: identifier });

export const depositFunds = defineOperation({
  operationId: 'depositFunds',
  method: 'post',
  path: '/accounts/{customerId}/deposit',
  access: { roles: ['staff'] },
  summary: "Add funds to a customer's account (a new account starts with them)",
  tags: ['payments'],
  params: customer,
  body: {
    schema: z.strictObject({ amount: positiveInt }),
    required: true,
    description: 'amount in minor units (cents)',
  },
  ...commandExchange({
    idempotencyKey: 'required',
    ifMatch: true,
    body: true,
    accepted: { description: 'Deposited', schema: acceptedSchema({ customerId: identifier }) },
    refusals: 'If-Match is stale, or the balance would exceed the largest safe integer',
  }),
});

export const recordAccountHolder = defineOperation({
  operationId: 'recordAccountHolder',
  method: 'post',
  path: '/accounts/{customerId}/holder',
  access: { roles: ['staff'], owner: { in: 'params', field: 'customerId' } },
  summary: "Record who holds a customer's account: their name and email (personal data)",
  description:
    "Sealed under the customer's key wherever it is stored or published (docs/privacy.md); a new account starts with it.",
  tags: ['payments'],
  params: customer,
  body: {
    schema: z.strictObject({
      name: personName.meta({ description: "The holder's name (personal data)" }),
      email: emailAddress.meta({ description: "The holder's email (personal data)" }),
    }),
    required: true,
  },
  ...commandExchange({
    idempotencyKey: 'required',
    ifMatch: true,
    body: true,
    accepted: { description: 'Recorded', schema: acceptedSchema({ customerId: identifier }) },
    refusals: 'If-Match is stale',
  }),
});

export const eraseCustomer = defineOperation({
  operationId: 'eraseCustomer',
  method: 'post',
  path: '/customers/{customerId}/erase',
  access: { roles: ['operator'] },
  summary: "Erase a customer's personal data everywhere: their keys destroyed (GDPR art. 17)",
  description:
    'Every key their personal data was sealed under is destroyed, so every copy of it (events, snapshots, outbox rows, Kafka messages, dead letters, read models) is ciphertext nothing opens; reads give { erased: true }. Recorded as DataSubjectErased, which holds no personal data. Their orders, payments and balances stay. Irreversible.',
  tags: ['payments'],
  params: customer,
  body: {
    schema: z.strictObject({}),
    required: true,
    description: '{}: nothing to say but who it is, which the path says',
  },
  ...commandExchange({
    idempotencyKey: 'required',
    ifMatch: false,
    body: true,
    accepted: {
      description: 'Erased: how many keys were destroyed (0 when there were none left)',
      schema: acceptedSchema({
        customerId: identifier,
        keysErased: z.number().int().nonnegative(),
      }),
    },
    refusals: 'Not refused: an erasure of someone already erased erases nothing more',
  }),
});

export const getAccount = defineOperation({
  operationId: 'getAccount',
  method: 'get',
  path: '/accounts/{customerId}',
  access: { roles: ['staff', 'operator'], owner: { in: 'params', field: 'customerId' } },
  summary: "A customer's account (the customer-account read model); its ETag is its version",
  tags: ['payments'],
  params: customer,
  query: z.strictObject(consistentRead(ACCOUNT_STREAM_TYPE)),
  responses: consistentReadAnswers(
    {
      description: 'Balance, funds held, recent payments and its holder (opened, or erased)',
      schema: customerAccountAnswerSchema,
    },
    'The customer never deposited',
  ),
});

export const paymentSchema = z.strictObject({
  paymentId: identifier,
  orderId: identifier,
  customerId: identifier,
  amount: money,
  status: z.enum(['AUTHORIZED', 'DECLINED', 'CAPTURED', 'VOIDED', 'REFUNDED']),
  declineReason: z.string().optional(),
  version: z.number().int().positive(),
});

export const getPayment = defineOperation({
  operationId: 'getPayment',
  method: 'get',
  path: '/payments/{id}',
  access: { roles: ['staff', 'operator'], owner: { resource: 'payment', param: 'id' } },
  summary: 'A payment and its status, from its events',
  tags: ['payments'],
  params: z.strictObject({ id: identifier }),
  responses: readAnswers({ description: 'The payment', schema: paymentSchema }, 'No such payment'),
});

export const paymentServiceApi: ServiceApi = {
  name: 'payment-service',
  title: 'Payment service',
  description: 'Customer accounts and payments',
  defaultPort: 3003,
  operations: [
    depositFunds,
    recordAccountHolder,
    eraseCustomer,
    getAccount,
    getPayment,
    ...deadLetterOperations,
    ...republishOperations,
    ...streamOperations,
    ...platformOperations,
  ],
};
