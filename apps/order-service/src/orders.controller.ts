// REST for orders (docs/decisions.md, Services). Controllers only validate, then send a command or a query.
import {
  Body,
  Controller,
  Get,
  HttpException,
  HttpStatus,
  Param,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import {
  ApiAcceptedResponse,
  ApiBody,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import type { ConsistencyToken } from '@es/event-store';
import {
  ORDER_STREAM_TYPE,
  orderLineSchema,
  type CustomerOrderDocument,
  type OrderDetailsDocument,
} from '@es/order-contracts';
import { orderTotal } from '@es/order-domain';
import { identifier, isoInstant, jsonSchemaOf, reason, z } from '@es/schema';
import {
  ApiCommand,
  ApiConsistentRead,
  CommandContext,
  ConsistentWith,
  NotFound,
  ZodPipe,
  foundWithETag,
  type CommandRequest,
} from '@es/service-runtime';
import { CancelOrder, PlaceOrder, type OrderAccepted } from './orders.commands';
import { GetOrder, GetOrderAt, GetOrderEvents, ListCustomerOrders } from './orders.queries';
import type { OrderView } from './order.view';

const placeOrderBody = z
  .strictObject({
    customerId: identifier,
    items: z
      .array(orderLineSchema)
      .min(1, { error: 'must hold at least one line' })
      .max(100, { error: 'must hold at most 100 lines' }),
  })
  .superRefine(({ items }, context) => {
    const first = new Map<string, number>();
    items.forEach(({ sku }, index) => {
      const earlier = first.get(sku);
      if (earlier === undefined) first.set(sku, index);
      else
        context.addIssue({
          code: 'custom',
          path: ['items', index, 'sku'],
          message: `${sku} is already items[${earlier}]; put the quantity on one line`,
        });
    });
    if (!Number.isSafeInteger(orderTotal(items)))
      context.addIssue({
        code: 'custom',
        path: ['items'],
        message: 'the order total is too large',
      });
  });
const cancelOrderBody = z.preprocess(
  (body) => body ?? {},
  z.strictObject({ reason: reason.default('cancelled by the customer') }),
);
const listQuery = z.strictObject({
  customerId: identifier,
  consistentWith: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});
const stateQuery = z
  .strictObject({
    asOf: isoInstant.optional(),
    atVersion: z.coerce.number().int().positive().optional(),
  })
  .refine((q) => (q.asOf === undefined) !== (q.atVersion === undefined), {
    error: 'give exactly one of asOf (ISO-8601) or atVersion (a version number)',
    path: ['asOf'],
  });

@ApiTags('orders')
@Controller('orders')
export class OrdersController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Post()
  @ApiCommand({ ifMatch: false })
  @ApiBody({ schema: jsonSchemaOf(placeOrderBody) })
  @ApiAcceptedResponse({ description: '{ orderId, version, token }: the saga takes it from here' })
  place(
    @Body(new ZodPipe(placeOrderBody)) body: z.output<typeof placeOrderBody>,
    @CommandContext() request: CommandRequest,
  ): Promise<OrderAccepted> {
    return this.commands.execute(new PlaceOrder(body.customerId, body.items, request));
  }

  @Get()
  @ApiQuery({ name: 'customerId', required: true })
  @ApiQuery({ name: 'limit', required: false, description: '1-100, default 20' })
  @ApiConsistentRead()
  @ApiOkResponse({
    description: "The customer's orders, newest first (the customer-orders read model)",
  })
  async list(
    @Query(new ZodPipe(listQuery, { what: 'query' })) query: z.output<typeof listQuery>,
    @ConsistentWith({ streamType: ORDER_STREAM_TYPE }) token: ConsistencyToken | undefined,
  ): Promise<{ orders: readonly CustomerOrderDocument[] }> {
    return {
      orders: await this.queries.execute(
        new ListCustomerOrders(query.customerId, query.limit, token),
      ),
    };
  }

  @Get(':id')
  @ApiConsistentRead()
  @ApiOkResponse({ description: 'The order (the order-details read model); ETag is its version' })
  @ApiNotFoundResponse()
  async get(
    @Param('id', new ZodPipe(identifier, { field: 'id' })) id: string,
    @ConsistentWith({ streamType: ORDER_STREAM_TYPE, idParam: 'id' })
    token: ConsistencyToken | undefined,
    @Res({ passthrough: true }) response: Response,
  ): Promise<OrderDetailsDocument> {
    return foundWithETag(
      await this.queries.execute(new GetOrder(id, token)),
      response,
      'order',
      id,
    );
  }

  @Post(':id/cancel')
  @ApiCommand({ ifMatch: true })
  @ApiBody({ schema: jsonSchemaOf(cancelOrderBody), required: false })
  @ApiAcceptedResponse({
    description: 'A pending order is cancelled; a confirmed one is compensated by the saga',
  })
  @ApiNotFoundResponse()
  cancel(
    @Param('id', new ZodPipe(identifier, { field: 'id' })) id: string,
    @Body(new ZodPipe(cancelOrderBody)) body: z.output<typeof cancelOrderBody>,
    @CommandContext() request: CommandRequest,
  ): Promise<OrderAccepted> {
    return this.commands.execute(new CancelOrder(id, body.reason, request));
  }

  @Get(':id/events')
  @ApiOkResponse({ description: 'The audit trail: every event with its metadata, in order' })
  @ApiNotFoundResponse()
  async events(
    @Param('id', new ZodPipe(identifier, { field: 'id' })) id: string,
  ): Promise<{ events: unknown[] }> {
    const events = await this.queries.execute(new GetOrderEvents(id));
    if (events.length === 0) throw new NotFound('order', id);
    return {
      events: events.map((e) => ({
        eventId: e.eventId,
        type: e.type,
        schemaVersion: e.schemaVersion,
        streamVersion: e.streamVersion,
        globalPosition: e.globalPosition.toString(),
        recordedAt: e.recordedAt.toISOString(),
        data: e.data,
        metadata: e.metadata,
      })),
    };
  }

  @Get(':id/state')
  @ApiQuery({ name: 'asOf', required: false, description: 'ISO-8601 instant' })
  @ApiQuery({ name: 'atVersion', required: false, description: 'A version number' })
  @ApiOkResponse({ description: 'The order as it was then, rebuilt from its events' })
  @ApiNotFoundResponse({ description: 'No such order, or it did not exist yet then' })
  async state(
    @Param('id', new ZodPipe(identifier, { field: 'id' })) id: string,
    @Query(new ZodPipe(stateQuery, { what: 'query' })) query: z.output<typeof stateQuery>,
  ): Promise<OrderView> {
    const at =
      query.atVersion !== undefined
        ? { toVersion: query.atVersion }
        : { asOf: new Date(query.asOf ?? '') };
    const found = await this.queries.execute(new GetOrderAt(id, at));
    if (!found) throw new NotFound('order', id);
    if ('order' in found) return found.order;
    const then = query.asOf ?? `version ${String(query.atVersion)}`;
    throw new HttpException(
      {
        statusCode: 404,
        error: 'Not Found',
        code: 'ORDER_NOT_YET_PLACED',
        message: `order ${id} did not exist yet at ${then}: it was placed at ${found.placedAt.toISOString()}`,
        placedAt: found.placedAt.toISOString(),
      },
      HttpStatus.NOT_FOUND,
    );
  }
}
