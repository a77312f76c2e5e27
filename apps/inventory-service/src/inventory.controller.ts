// REST for stock (docs/decisions.md, Services). Reservations are the saga's, over Kafka, not REST.
import { Body, Controller, Get, Param, Post, Res } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import {
  ApiAcceptedResponse,
  ApiBody,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import type { ConsistencyToken } from '@es/event-store';
import { STOCK_ITEM_STREAM_TYPE, type StockAvailabilityDocument } from '@es/inventory-contracts';
import { identifier, jsonSchemaOf, positiveInt, z } from '@es/schema';
import {
  ApiCommand,
  ApiConsistentRead,
  CommandContext,
  ConsistentWith,
  ZodPipe,
  foundWithETag,
  type CommandRequest,
} from '@es/service-runtime';
import { Restock, type StockAccepted } from './inventory.commands';
import { GetStockItem } from './inventory.queries';

const restockBody = z.strictObject({ quantity: positiveInt });

@ApiTags('inventory')
@Controller('inventory')
export class InventoryController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Post(':sku/restock')
  @ApiCommand({ ifMatch: true })
  @ApiBody({ schema: jsonSchemaOf(restockBody) })
  @ApiAcceptedResponse({ description: '{ sku, version, token }' })
  restock(
    @Param('sku', new ZodPipe(identifier, { field: 'sku' })) sku: string,
    @Body(new ZodPipe(restockBody)) body: z.output<typeof restockBody>,
    @CommandContext() request: CommandRequest,
  ): Promise<StockAccepted> {
    return this.commands.execute(new Restock(sku, body.quantity, request));
  }

  @Get(':sku')
  @ApiConsistentRead()
  @ApiOkResponse({
    description:
      '{ sku, onHand, reserved, available, updatedAt, version } (the stock-availability read model); ETag is the version',
  })
  @ApiNotFoundResponse({ description: 'The SKU was never stocked' })
  async get(
    @Param('sku', new ZodPipe(identifier, { field: 'sku' })) sku: string,
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
