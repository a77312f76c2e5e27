// REST for stock (docs/api.md): the operations of @es/inventory-contracts' inventory.http.ts.
// Reservations are the saga's, over Kafka, not REST.
import { Controller, Res } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import type { Response } from 'express';
import type { ConsistencyToken } from '@es/event-store';
import type { BodyOf, ParamsOf } from '@es/http-api';
import {
  STOCK_ITEM_STREAM_TYPE,
  getStockItem,
  restockItem,
  type StockAvailabilityDocument,
} from '@es/inventory-contracts';
import {
  CommandContext,
  ConsistentWith,
  Input,
  Route,
  foundWithETag,
  type CommandRequest,
} from '@es/service-runtime';
import { Restock, type StockAccepted } from './inventory.commands';
import { GetStockItem } from './inventory.queries';

@Controller()
export class InventoryController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Route(restockItem)
  restock(
    @Input('params') { sku }: ParamsOf<typeof restockItem>,
    @Input('body') body: BodyOf<typeof restockItem>,
    @CommandContext() request: CommandRequest,
  ): Promise<StockAccepted> {
    return this.commands.execute(new Restock(sku, body.quantity, request));
  }

  @Route(getStockItem)
  async get(
    @Input('params') { sku }: ParamsOf<typeof getStockItem>,
    @ConsistentWith({ streamType: STOCK_ITEM_STREAM_TYPE, idParam: 'sku' })
    token: ConsistencyToken | undefined,
    @Res({ passthrough: true }) response: Response,
  ): Promise<StockAvailabilityDocument> {
    return foundWithETag(
      await this.queries.execute(new GetStockItem(sku, token)),
      response,
      'stock item',
      sku,
    );
  }
}
