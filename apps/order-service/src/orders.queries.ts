// The order service's queries. Until the read models exist (issue "MongoDB read models") they
// are answered from the event store: the order's stream, folded.
import { Inject } from '@nestjs/common';
import { Query, QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import type {
  CommandHandler as EventStoreCommandHandler,
  PostgresEventStore,
  RecordedEvent,
} from '@es/event-store';
import { ORDER_STREAM_TYPE } from '@es/order-contracts';
import { COMMAND_HANDLER, EVENT_STORE } from '@es/service-runtime';
import { orderAggregate } from './order.aggregate';
import { orderView, type OrderView } from './order.view';

export class GetOrder extends Query<OrderView | undefined> {
  constructor(readonly orderId: string) {
    super();
  }
}

export class GetOrderAt extends Query<OrderView | undefined> {
  constructor(
    readonly orderId: string,
    readonly at: { readonly toVersion: number } | { readonly asOf: Date },
  ) {
    super();
  }
}

export class GetOrderEvents extends Query<readonly RecordedEvent[]> {
  constructor(readonly orderId: string) {
    super();
  }
}

export class ListCustomerOrders extends Query<readonly OrderView[]> {
  constructor(
    readonly customerId: string,
    readonly limit: number,
  ) {
    super();
  }
}

@QueryHandler(GetOrder)
export class GetOrderHandler implements IQueryHandler<GetOrder> {
  constructor(@Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler) {}

  async execute({ orderId }: GetOrder): Promise<OrderView | undefined> {
    const loaded = await this.handler.load(orderAggregate, orderId);
    return orderView(loaded.state, loaded.version);
  }
}

@QueryHandler(GetOrderAt)
export class GetOrderAtHandler implements IQueryHandler<GetOrderAt> {
  constructor(@Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler) {}

  async execute({ orderId, at }: GetOrderAt): Promise<OrderView | undefined> {
    const loaded = await this.handler.loadAt(orderAggregate, orderId, at);
    return orderView(loaded.state, loaded.version);
  }
}

@QueryHandler(GetOrderEvents)
export class GetOrderEventsHandler implements IQueryHandler<GetOrderEvents> {
  constructor(@Inject(EVENT_STORE) private readonly store: PostgresEventStore) {}

  execute({ orderId }: GetOrderEvents): Promise<RecordedEvent[]> {
    return this.store.readStream({ type: ORDER_STREAM_TYPE, id: orderId });
  }
}

@QueryHandler(ListCustomerOrders)
export class ListCustomerOrdersHandler implements IQueryHandler<ListCustomerOrders> {
  constructor(
    @Inject(EVENT_STORE) private readonly store: PostgresEventStore,
    @Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler,
  ) {}

  async execute({ customerId, limit }: ListCustomerOrders): Promise<OrderView[]> {
    const ids = await this.store.findStreams(
      ORDER_STREAM_TYPE,
      'OrderCreated',
      { customerId },
      { limit },
    );
    const orders = await Promise.all(
      ids.map(async (id) => {
        const loaded = await this.handler.load(orderAggregate, id);
        return orderView(loaded.state, loaded.version);
      }),
    );
    return orders.filter((o): o is OrderView => o !== undefined);
  }
}
