// The order service's queries: an order and a customer's orders from the read models the
// projection service builds (waiting for a consistency token when given one); an order's history
// and its state at a time or version from the event store, which alone has the past. The
// customer's contact is stored sealed everywhere (docs/privacy.md): it is opened here, for the
// answer, through the key vault; an erased customer's reads as erased.
import { Inject } from '@nestjs/common';
import { Query, QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import type {
  CommandHandler as EventStoreCommandHandler,
  ConsistencyToken,
  PostgresEventStore,
  RecordedEvent,
} from '@es/event-store';
import {
  CUSTOMER_ORDERS_READ_MODEL,
  ORDER_DETAILS_READ_MODEL,
  ORDER_STREAM_TYPE,
  type CustomerOrderDocument,
  type OrderDetailsAnswer,
  type OrderDetailsDocument,
} from '@es/order-contracts';
import type { ReadModels } from '@es/read-models';
import { erasedValue } from '@es/schema';
import {
  COMMAND_HANDLER,
  EVENT_STORE,
  PERSONAL_DATA,
  READ_MODELS,
  type PersonalData,
} from '@es/service-runtime';
import { orderAggregate } from './order.aggregate';
import { orderView, type OrderView } from './order.view';

export class GetOrder extends Query<OrderDetailsAnswer | undefined> {
  constructor(
    readonly orderId: string,
    readonly consistentWith?: ConsistencyToken,
  ) {
    super();
  }
}

/** The order as it was then; or, when it did not exist yet then, when it was placed. */
export type OrderAt = { readonly order: OrderView } | { readonly placedAt: Date } | undefined;

export class GetOrderAt extends Query<OrderAt> {
  constructor(
    readonly orderId: string,
    readonly at: { readonly toVersion?: number; readonly asOf?: Date },
  ) {
    super();
  }
}

export class GetOrderEvents extends Query<readonly RecordedEvent[]> {
  constructor(readonly orderId: string) {
    super();
  }
}

export class ListCustomerOrders extends Query<readonly CustomerOrderDocument[]> {
  constructor(
    readonly customerId: string,
    readonly limit: number,
    readonly consistentWith?: ConsistencyToken,
  ) {
    super();
  }
}

@QueryHandler(GetOrder)
export class GetOrderHandler implements IQueryHandler<GetOrder> {
  constructor(
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
    @Inject(PERSONAL_DATA) private readonly vault: PersonalData,
  ) {}

  async execute({ orderId, consistentWith }: GetOrder): Promise<OrderDetailsAnswer | undefined> {
    const doc = await this.readModels.get<Partial<OrderDetailsDocument>>(
      ORDER_DETAILS_READ_MODEL,
      orderId,
      { ...(consistentWith ? { consistentWith } : {}) },
    );
    // Only the saga's progress so far (its events came before the order's): no order yet.
    if (!doc?.status) return undefined;
    const { contact, ...order } = await this.vault.shredder.open(doc as OrderDetailsDocument);
    return contact ? { ...order, contact: contactAnswer(contact) } : order;
  }
}

/**
 * The contact as GET /orders/{id} answers it, each field its value or erased: a contact sealed
 * whole (OrderCreated version 3) opens to its fields, or, its customer erased, to one marker
 * that stands for each of them.
 */
function contactAnswer(contact: unknown): OrderDetailsAnswer['contact'] {
  if (erasedValue.safeParse(contact).success) {
    const erased = { erased: true } as const;
    return { name: erased, email: erased, shippingAddress: erased };
  }
  return contact as OrderDetailsAnswer['contact'];
}

@QueryHandler(GetOrderAt)
export class GetOrderAtHandler implements IQueryHandler<GetOrderAt> {
  constructor(
    @Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler,
    @Inject(EVENT_STORE) private readonly store: PostgresEventStore,
  ) {}

  async execute({ orderId, at }: GetOrderAt): Promise<OrderAt> {
    const loaded = await this.handler.loadAt(orderAggregate, orderId, at);
    const order = orderView(loaded.state, loaded.version);
    if (order) return { order };
    // Nothing then: an order placed later, or none at all.
    const [first] = await this.store.readStream(
      { type: ORDER_STREAM_TYPE, id: orderId },
      { toVersion: 1 },
    );
    return first ? { placedAt: first.recordedAt } : undefined;
  }
}

@QueryHandler(GetOrderEvents)
export class GetOrderEventsHandler implements IQueryHandler<GetOrderEvents> {
  constructor(@Inject(EVENT_STORE) private readonly store: PostgresEventStore) {}

  /** The audit trail, for operators: personal fields opened (or erased). */
  execute({ orderId }: GetOrderEvents): Promise<RecordedEvent[]> {
    return this.store.readStream({ type: ORDER_STREAM_TYPE, id: orderId }, { open: true });
  }
}

@QueryHandler(ListCustomerOrders)
export class ListCustomerOrdersHandler implements IQueryHandler<ListCustomerOrders> {
  constructor(@Inject(READ_MODELS) private readonly readModels: ReadModels) {}

  execute({
    customerId,
    limit,
    consistentWith,
  }: ListCustomerOrders): Promise<CustomerOrderDocument[]> {
    return this.readModels.list<CustomerOrderDocument>(
      CUSTOMER_ORDERS_READ_MODEL,
      { filter: { customerId }, sort: { createdAt: -1 }, limit },
      { ...(consistentWith ? { consistentWith } : {}) },
    );
  }
}
