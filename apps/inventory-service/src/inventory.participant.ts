// Inventory's part in the order saga: the commands on `inventory.commands`, each handled once
// (inbox) and answered on `sagas.replies` in the transaction of its effect.
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import {
  INVENTORY_COMMANDS_TOPIC,
  inventorySagaCommandSchema,
  type InventorySagaCommand,
} from '@es/inventory-contracts';
import { assertNever } from '@es/decider';
import { MessageConsumers, failure, success, type ParticipantRequest } from '@es/service-runtime';
import {
  CommitStock,
  ReleaseStock,
  ReserveStock,
  type ReservationOutcome,
} from './inventory.commands';

function shortageMessage(outcome: Extract<ReservationOutcome, { outcome: 'insufficient-stock' }>) {
  return outcome.shortages
    .map((s) => `${s.sku}: ${s.requested} requested, ${s.available} available`)
    .join('; ');
}

@Injectable()
export class InventoryParticipant implements OnModuleInit {
  constructor(
    @Inject(MessageConsumers) private readonly consumers: MessageConsumers,
    private readonly commandBus: CommandBus,
  ) {}

  onModuleInit(): void {
    this.consumers.participate({
      topic: INVENTORY_COMMANDS_TOPIC,
      schema: inventorySagaCommandSchema,
      handle: (request) => this.handle(request),
    });
  }

  private async handle({
    command,
    context,
    reply,
  }: ParticipantRequest<InventorySagaCommand>): Promise<void> {
    const { orderId } = command.data;
    switch (command.type) {
      case 'ReserveStock':
        await this.commandBus.execute(
          new ReserveStock(orderId, command.data.lines, context, (outcome) =>
            reply(
              outcome.outcome === 'reserved'
                ? success({ orderId })
                : failure('INSUFFICIENT_STOCK', shortageMessage(outcome), {
                    shortages: outcome.shortages,
                  }),
            ),
          ),
        );
        return;
      case 'ReleaseStock':
        await this.commandBus.execute(
          new ReleaseStock(orderId, command.data.skus, context, () => reply(success({ orderId }))),
        );
        return;
      case 'CommitStock':
        await this.commandBus.execute(
          new CommitStock(orderId, command.data.skus, context, (outcome) =>
            reply(
              outcome.outcome === 'committed'
                ? success({ orderId })
                : failure(
                    'RESERVATION_NOT_FOUND',
                    `order ${orderId} holds no units of ${outcome.skus.join(', ')}`,
                    { skus: outcome.skus },
                  ),
            ),
          ),
        );
        return;
      default:
        assertNever(command);
    }
  }
}
