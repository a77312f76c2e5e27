// The inventory service's HTTP API (docs/api.md). Reservations are the saga's, over Kafka.
import {
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
import { identifier, positiveInt, z } from '@es/schema';
import { stockAvailabilityDocumentSchema } from './inventory.read-models';
import { STOCK_ITEM_STREAM_TYPE } from './stock-item.events';

const sku = z.strictObject({ sku: identifier });

export const restockItem = defineOperation({
  operationId: 'restockItem',
  method: 'post',
  path: '/inventory/{sku}/restock',
  access: { roles: ['staff'] },
  summary: 'Add stock to a SKU (a new SKU starts with it)',
  tags: ['inventory'],
  params: sku,
  body: { schema: z.strictObject({ quantity: positiveInt }), required: true },
  ...commandExchange({
    idempotencyKey: 'required',
    ifMatch: true,
    body: true,
    accepted: { description: 'Restocked', schema: acceptedSchema({ sku: identifier }) },
    refusals: 'If-Match is stale, or the stock would exceed the largest safe integer',
  }),
});

export const getStockItem = defineOperation({
  operationId: 'getStockItem',
  method: 'get',
  path: '/inventory/{sku}',
  access: { roles: [], anyone: true },
  summary: 'Stock of a SKU (the stock-availability read model); its ETag is its version',
  tags: ['inventory'],
  params: sku,
  query: z.strictObject(consistentRead(STOCK_ITEM_STREAM_TYPE)),
  responses: consistentReadAnswers(
    { description: 'On hand, reserved and available', schema: stockAvailabilityDocumentSchema },
    'The SKU was never stocked',
  ),
});

export const inventoryServiceApi: ServiceApi = {
  name: 'inventory-service',
  title: 'Inventory service',
  description: 'Stock per SKU: restocking and availability',
  defaultPort: 3002,
  operations: [
    restockItem,
    getStockItem,
    ...deadLetterOperations,
    ...republishOperations,
    ...streamOperations,
    ...platformOperations,
  ],
};
