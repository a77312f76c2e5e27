// Inventory's commands: restocking (REST) and an order's reservation, released or committed
// (the saga's steps, as decisions the participant carries out with its replies, and as
// in-process commands). A reservation covers every line of the order or none: each SKU is decided
// on its current stock and all are appended in one transaction.
import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { DomainError } from '@es/decider';
import {
  answer,
  onStream,
  type CommandHandler as EventStoreCommandHandler,
  type Decision,
  type HandleContext,
} from '@es/event-store';
import { STOCK_ITEM_STREAM_TYPE } from '@es/inventory-contracts';
import { bySku } from '@es/inventory-domain';
import { COMMAND_HANDLER, accepted, type Accepted, type CommandRequest } from '@es/service-runtime';
import { stockItemAggregate, stockReturnAggregate } from './stock-item.aggregate';

export interface StockAccepted extends Accepted {
  readonly sku: string;
}

export interface StockLine {
  readonly sku: string;
  readonly quantity: number;
}

export interface Shortage {
  readonly sku: string;
  readonly requested: number;
  readonly available: number;
}

export type ReservationOutcome =
  | { readonly outcome: 'reserved'; readonly orderId: string }
  | { readonly outcome: 'unknown-sku'; readonly orderId: string; readonly skus: readonly string[] }
  | {
      readonly outcome: 'insufficient-stock';
      readonly orderId: string;
      readonly shortages: readonly Shortage[];
    };

export class Restock extends Command<StockAccepted> {
  constructor(
    readonly sku: string,
    readonly quantity: number,
    readonly request: CommandRequest,
  ) {
    super();
  }
}

export type CommitOutcome =
  | { readonly outcome: 'committed'; readonly orderId: string }
  | {
      readonly outcome: 'not-reserved';
      readonly orderId: string;
      readonly skus: readonly string[];
    };

export type ReturnOutcome =
  | { readonly outcome: 'returned'; readonly orderId: string }
  | { readonly outcome: 'unknown-sku'; readonly orderId: string; readonly skus: readonly string[] };

export class ReserveStock extends Command<ReservationOutcome> {
  constructor(
    readonly orderId: string,
    readonly lines: readonly StockLine[],
    readonly context: HandleContext,
  ) {
    super();
  }
}

export class ReleaseStock extends Command<void> {
  constructor(
    readonly orderId: string,
    readonly skus: readonly string[],
    readonly context: HandleContext,
  ) {
    super();
  }
}

export class CommitStock extends Command<CommitOutcome> {
  constructor(
    readonly orderId: string,
    readonly skus: readonly string[],
    readonly context: HandleContext,
  ) {
    super();
  }
}

@CommandHandler(Restock)
export class RestockHandler implements ICommandHandler<Restock> {
  constructor(@Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler) {}

  async execute({ sku, quantity, request }: Restock): Promise<StockAccepted> {
    const result = await this.handler.handle(
      stockItemAggregate,
      sku,
      { type: 'Restock', sku, quantity },
      request,
    );
    return { sku, ...accepted(STOCK_ITEM_STREAM_TYPE, sku, result.version) };
  }
}

function shortageOf(sku: string, error: DomainError): Shortage | undefined {
  if (error.code !== 'INSUFFICIENT_STOCK') return undefined;
  const { requested, available } = error.details as { requested: number; available: number };
  return { sku, requested, available };
}

/**
 * An order's reservation: every line, each SKU decided on its current stock, or none. A SKU
 * never stocked, or short stock, is an answer (unknown SKUs named first, as they are the
 * customer's mistake rather than the warehouse's), recorded as handled with it (a redelivery
 * after a restock answers the same), not an error; any other refusal (a conflicting
 * reservation) is one.
 */
export function reservation(
  orderId: string,
  lines: readonly StockLine[],
): Decision<ReservationOutcome> {
  return {
    commands: bySku(lines).map(({ sku, quantity }) =>
      onStream(stockItemAggregate, sku, { type: 'ReserveStock', orderId, quantity }),
    ),
    outcome: { outcome: 'reserved', orderId },
    refused: (refusals) => {
      const unknown = refusals.filter((r) => r.error.code === 'UNKNOWN_SKU');
      if (
        unknown.length > 0 &&
        refusals.every((r) => ['UNKNOWN_SKU', 'INSUFFICIENT_STOCK'].includes(r.error.code))
      )
        return answer<ReservationOutcome>({
          outcome: 'unknown-sku',
          orderId,
          skus: unknown.map((r) => r.stream.id),
        });
      const shortages = refusals.map((r) => shortageOf(r.stream.id, r.error));
      if (shortages.some((s) => s === undefined)) return undefined;
      return answer<ReservationOutcome>({
        outcome: 'insufficient-stock',
        orderId,
        shortages: shortages.filter((s): s is Shortage => s !== undefined),
      });
    },
  };
}

/** An order's reservation released, SKU by SKU (nothing reserved: nothing to release). */
export function release(orderId: string, skus: readonly string[]): Decision<void> {
  return {
    commands: [...new Set(skus)].map((sku) =>
      onStream(stockItemAggregate, sku, { type: 'ReleaseStock', orderId }),
    ),
    outcome: undefined,
  };
}

/** An order's reserved stock committed (taken from on hand); a SKU it holds none of is an answer. */
export function commitment(orderId: string, skus: readonly string[]): Decision<CommitOutcome> {
  return {
    commands: [...new Set(skus)].map((sku) =>
      onStream(stockItemAggregate, sku, { type: 'CommitStock', orderId }),
    ),
    outcome: { outcome: 'committed', orderId },
    refused: (refusals) =>
      refusals.some((r) => r.error.code !== 'RESERVATION_NOT_FOUND')
        ? undefined
        : answer<CommitOutcome>({
            outcome: 'not-reserved',
            orderId,
            skus: refusals.map((r) => r.stream.id),
          }),
  };
}

/**
 * A cancelled order's committed stock back on hand: recorded once on the order's stock return
 * stream, and each SKU's units returned in the same append. A repeat (a re-sent or redelivered
 * command) finds the return recorded, returns nothing and answers the same.
 */
export function stockReturn(orderId: string, lines: readonly StockLine[]): Decision<ReturnOutcome> {
  const at = new Date().toISOString();
  return {
    commands: [
      onStream(
        stockReturnAggregate,
        orderId,
        { type: 'ReturnOrderStock', orderId, lines, at },
        {
          follows: (_returned, events) =>
            events.flatMap((event) =>
              event.data.lines.map(({ sku, quantity }) =>
                onStream(stockItemAggregate, sku, { type: 'ReturnStock', orderId, quantity }),
              ),
            ),
        },
      ),
    ],
    outcome: { outcome: 'returned', orderId },
    refused: (refusals) =>
      refusals.some((r) => r.error.code !== 'UNKNOWN_SKU')
        ? undefined
        : answer<ReturnOutcome>({
            outcome: 'unknown-sku',
            orderId,
            skus: refusals.map((r) => r.stream.id),
          }),
  };
}

@CommandHandler(ReserveStock)
export class ReserveStockHandler implements ICommandHandler<ReserveStock> {
  constructor(@Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler) {}

  execute({ orderId, lines, context }: ReserveStock): Promise<ReservationOutcome> {
    return this.handler.carryOut(reservation(orderId, lines), context);
  }
}

@CommandHandler(ReleaseStock)
export class ReleaseStockHandler implements ICommandHandler<ReleaseStock> {
  constructor(@Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler) {}

  execute({ orderId, skus, context }: ReleaseStock): Promise<void> {
    return this.handler.carryOut(release(orderId, skus), context);
  }
}

@CommandHandler(CommitStock)
export class CommitStockHandler implements ICommandHandler<CommitStock> {
  constructor(@Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler) {}

  execute({ orderId, skus, context }: CommitStock): Promise<CommitOutcome> {
    return this.handler.carryOut(commitment(orderId, skus), context);
  }
}
