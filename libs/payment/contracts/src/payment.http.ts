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
  platformOperations,
  type ServiceApi,
} from '@es/http-api';
import { identifier, money, positiveInt, z } from '@es/schema';
import { ACCOUNT_STREAM_TYPE } from './payment.events';
import { customerAccountDocumentSchema } from './payment.read-models';

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
      description: 'Balance, funds held and recent payments',
      schema: customerAccountDocumentSchema,
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
    getAccount,
    getPayment,
    ...deadLetterOperations,
    ...republishOperations,
    ...platformOperations,
  ],
};
