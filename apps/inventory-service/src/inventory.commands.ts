// Inventory's commands: restocking (REST) and an order's reservation, released or committed
// (the saga's steps). A reservation covers every line of the order or none: each SKU is decided
// on its current stock and all are appended in one transaction.
import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { DomainError } from '@es/decider';
import {
  CommandsRefusedError,
  onStream,
  type CommandHandler as EventStoreCommandHandler,
  type HandleContext,
} from '@es/event-store';
import { STOCK_ITEM_STREAM_TYPE } from '@es/inventory-contracts';
import {
  COMMAND_HANDLER,
  accepted,
  answered,
  replying,
  type Accepted,
  type CommandRequest,
  type Reply,
} from '@es/service-runtime';
import { stockItemAggregate } from './stock-item.aggregate';

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

export class ReserveStock extends Command<ReservationOutcome> {
  constructor(
    readonly orderId: string,
    readonly lines: readonly StockLine[],
    readonly context: HandleContext,
    readonly reply?: Reply<ReservationOutcome>,
  ) {
    super();
  }
}

export class ReleaseStock extends Command<void> {
  constructor(
    readonly orderId: string,
    readonly skus: readonly string[],
    readonly context: HandleContext,
    readonly reply?: Reply<void>,
  ) {
    super();
  }
}

export class CommitStock extends Command<CommitOutcome> {
  constructor(
    readonly orderId: string,
    readonly skus: readonly string[],
    readonly context: HandleContext,
    readonly reply?: Reply<CommitOutcome>,
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

/** Lines for the same SKU are one reservation of their total. */
function bySku(lines: readonly StockLine[]): StockLine[] {
  const totals = new Map<string, number>();
  for (const { sku, quantity } of lines) totals.set(sku, (totals.get(sku) ?? 0) + quantity);
  return [...totals].map(([sku, quantity]) => ({ sku, quantity }));
}

function shortageOf(sku: string, error: DomainError): Shortage | undefined {
  if (error.code !== 'INSUFFICIENT_STOCK') return undefined;
  const { requested, available } = error.details as { requested: number; available: number };
  return { sku, requested, available };
}

@CommandHandler(ReserveStock)
export class ReserveStockHandler implements ICommandHandler<ReserveStock> {
  constructor(@Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler) {}

  async execute({ orderId, lines, context, reply }: ReserveStock): Promise<ReservationOutcome> {
    const merged = bySku(lines);
    const reserved: ReservationOutcome = { outcome: 'reserved', orderId };
    try {
      await this.handler.handleAll(
        merged.map(({ sku, quantity }) =>
          onStream(stockItemAggregate, sku, { type: 'ReserveStock', orderId, quantity }),
        ),
        replying(context, reply, reserved),
      );
      return reserved;
    } catch (error) {
      const refusals =
        error instanceof CommandsRefusedError
          ? error.refusals.map((r) => ({ sku: r.stream.id, error: r.error }))
          : [];
      const shortages = refusals.map((r) =>
        r.error instanceof DomainError ? shortageOf(r.sku, r.error) : undefined,
      );
      // Short stock is an answer, not an error; anything else (a conflicting reservation) is.
      if (refusals.length === 0 || shortages.some((s) => s === undefined)) throw error;
      // Recorded as handled, with its answer: a redelivery after a restock answers the same.
      return answered(this.handler, context, reply, {
        outcome: 'insufficient-stock',
        orderId,
        shortages: shortages.filter((s): s is Shortage => s !== undefined),
      });
    }
  }
}

@CommandHandler(ReleaseStock)
export class ReleaseStockHandler implements ICommandHandler<ReleaseStock> {
  constructor(@Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler) {}

  async execute({ orderId, skus, context, reply }: ReleaseStock): Promise<void> {
    await this.handler.handleAll(
      [...new Set(skus)].map((sku) =>
        onStream(stockItemAggregate, sku, { type: 'ReleaseStock', orderId }),
      ),
      replying(context, reply, undefined),
    );
  }
}

@CommandHandler(CommitStock)
export class CommitStockHandler implements ICommandHandler<CommitStock> {
  constructor(@Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler) {}

  async execute({ orderId, skus, context, reply }: CommitStock): Promise<CommitOutcome> {
    const committed: CommitOutcome = { outcome: 'committed', orderId };
    try {
      await this.handler.handleAll(
        [...new Set(skus)].map((sku) =>
          onStream(stockItemAggregate, sku, { type: 'CommitStock', orderId }),
        ),
        replying(context, reply, committed),
      );
      return committed;
    } catch (error) {
      const refusals = error instanceof CommandsRefusedError ? error.refusals : [];
      if (refusals.length === 0 || refusals.some((r) => r.error.code !== 'RESERVATION_NOT_FOUND'))
        throw error;
      return answered(this.handler, context, reply, {
        outcome: 'not-reserved',
        orderId,
        skus: refusals.map((r) => r.stream.id),
      });
    }
  }
}
