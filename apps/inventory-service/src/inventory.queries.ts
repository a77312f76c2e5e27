// Inventory's queries: stock per SKU from the stock-availability read model the projection
// service builds, waiting for a consistency token when given one.
import { Inject } from '@nestjs/common';
import { Query, QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import type { ConsistencyToken } from '@es/event-store';
import {
  STOCK_AVAILABILITY_READ_MODEL,
  type StockAvailabilityDocument,
} from '@es/inventory-contracts';
import type { ReadModels } from '@es/read-models';
import { READ_MODELS } from '@es/service-runtime';

export class GetStockItem extends Query<StockAvailabilityDocument | undefined> {
  constructor(
    readonly sku: string,
    readonly consistentWith?: ConsistencyToken,
  ) {
    super();
  }
}

@QueryHandler(GetStockItem)
export class GetStockItemHandler implements IQueryHandler<GetStockItem> {
  constructor(@Inject(READ_MODELS) private readonly readModels: ReadModels) {}

  execute({ sku, consistentWith }: GetStockItem): Promise<StockAvailabilityDocument | undefined> {
    return this.readModels.get<StockAvailabilityDocument>(STOCK_AVAILABILITY_READ_MODEL, sku, {
      ...(consistentWith ? { consistentWith } : {}),
    });
  }
}
