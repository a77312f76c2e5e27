// Inventory's queries, answered from the event store until the read models exist.
import { Inject } from '@nestjs/common';
import { Query, QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import type { CommandHandler as EventStoreCommandHandler } from '@es/event-store';
import { available } from '@es/inventory-domain';
import { COMMAND_HANDLER } from '@es/service-runtime';
import { stockItemAggregate } from './stock-item.aggregate';

export interface StockItemView {
  readonly sku: string;
  readonly onHand: number;
  readonly reserved: number;
  readonly available: number;
  readonly version: number;
}

export class GetStockItem extends Query<StockItemView | undefined> {
  constructor(readonly sku: string) {
    super();
  }
}

@QueryHandler(GetStockItem)
export class GetStockItemHandler implements IQueryHandler<GetStockItem> {
  constructor(@Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler) {}

  async execute({ sku }: GetStockItem): Promise<StockItemView | undefined> {
    const { state, version } = await this.handler.load(stockItemAggregate, sku);
    if (state.status !== 'STOCKED') return undefined;
    return {
      sku,
      onHand: state.onHand,
      reserved: state.reserved,
      available: available(state),
      version,
    };
  }
}
