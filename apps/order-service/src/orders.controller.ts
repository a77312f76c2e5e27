// REST for orders (docs/api.md). Each handler serves one operation of the order service's API
// (@es/order-contracts, order.http.ts), whose schemas have checked its input before it runs;
// controllers then only send a command or a query.
import { Controller, Res } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import type { Response } from 'express';
import type { ConsistencyToken } from '@es/event-store';
import type { BodyOf, ParamsOf, QueryOf } from '@es/http-api';
import {
  ORDER_STREAM_TYPE,
  cancelOrder,
  getOrder,
  getOrderEvents,
  getOrderState,
  listCustomerOrders,
  placeOrder,
  type CustomerOrderDocument,
  type OrderDetailsAnswer,
} from '@es/order-contracts';
import {
  CommandContext,
  ConsistentWith,
  Input,
  NotFound,
  ProblemError,
  Route,
  foundWithETag,
  recordedEventView,
  type CommandRequest,
} from '@es/service-runtime';
import { CancelOrder, PlaceOrder, type OrderAccepted } from './orders.commands';
import { GetOrder, GetOrderAt, GetOrderEvents, ListCustomerOrders } from './orders.queries';
import type { OrderView } from './order.view';

@Controller()
export class OrdersController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Route(placeOrder)
  place(
    @Input('body') body: BodyOf<typeof placeOrder>,
    @CommandContext() request: CommandRequest,
  ): Promise<OrderAccepted> {
    const { customerId, items, name, email, shippingAddress } = body;
    return this.commands.execute(
      new PlaceOrder(customerId, items, { name, email, shippingAddress }, request),
    );
  }

  @Route(listCustomerOrders)
  async list(
    @Input('query') query: QueryOf<typeof listCustomerOrders>,
    @ConsistentWith({ streamType: ORDER_STREAM_TYPE }) token: ConsistencyToken | undefined,
  ): Promise<{ orders: readonly CustomerOrderDocument[] }> {
    return {
      orders: await this.queries.execute(
        new ListCustomerOrders(query.customerId, query.limit, token),
      ),
    };
  }

  @Route(getOrder)
  async get(
    @Input('params') { id }: ParamsOf<typeof getOrder>,
    @ConsistentWith({ streamType: ORDER_STREAM_TYPE, idParam: 'id' })
    token: ConsistencyToken | undefined,
    @Res({ passthrough: true }) response: Response,
  ): Promise<OrderDetailsAnswer> {
    return foundWithETag(
      await this.queries.execute(new GetOrder(id, token)),
      response,
      'order',
      id,
    );
  }

  @Route(cancelOrder)
  cancel(
    @Input('params') { id }: ParamsOf<typeof cancelOrder>,
    @Input('body') body: BodyOf<typeof cancelOrder>,
    @CommandContext() request: CommandRequest,
  ): Promise<OrderAccepted> {
    return this.commands.execute(new CancelOrder(id, body.reason, request));
  }

  @Route(getOrderEvents)
  async events(
    @Input('params') { id }: ParamsOf<typeof getOrderEvents>,
  ): Promise<{ events: unknown[] }> {
    const events = await this.queries.execute(new GetOrderEvents(id));
    if (events.length === 0) throw new NotFound('order', id);
    return { events: events.map(recordedEventView) };
  }

  @Route(getOrderState)
  async state(
    @Input('params') { id }: ParamsOf<typeof getOrderState>,
    @Input('query') { asOf, atVersion }: QueryOf<typeof getOrderState>,
  ): Promise<OrderView> {
    const found = await this.queries.execute(
      new GetOrderAt(id, {
        ...(atVersion !== undefined ? { toVersion: atVersion } : {}),
        ...(asOf !== undefined ? { asOf: new Date(asOf) } : {}),
      }),
    );
    if (!found) throw new NotFound('order', id);
    if ('order' in found) return found.order;
    const then = [asOf, atVersion === undefined ? undefined : `version ${String(atVersion)}`]
      .filter((part) => part !== undefined)
      .join(' and ');
    throw new ProblemError({
      status: 404,
      code: 'ORDER_NOT_YET_PLACED',
      detail: `order ${id} did not exist yet at ${then}: it was placed at ${found.placedAt.toISOString()}`,
      extra: { placedAt: found.placedAt.toISOString() },
    });
  }
}
