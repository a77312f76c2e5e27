// Inventory's part in the order saga: the commands on `inventory.commands`, each decided here,
// handled once (inbox) and answered on `sagas.replies` in the append of its effect.
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { assertNever } from '@es/decider';
import { mapDecision, type CommandHandler as EventStoreCommandHandler } from '@es/event-store';
import {
  INVENTORY_COMMANDS_TOPIC,
  inventorySagaCommandSchema,
  type InventorySagaCommand,
} from '@es/inventory-contracts';
import { failure, success } from '@es/saga-contracts';
import { participantConsumer } from '@es/saga-participant';
import { COMMAND_HANDLER, MessageConsumers } from '@es/service-runtime';
import { commitment, release, reservation, type ReservationOutcome } from './inventory.commands';

function shortageMessage(outcome: Extract<ReservationOutcome, { outcome: 'insufficient-stock' }>) {
  return outcome.shortages
    .map((s) => `${s.sku}: ${s.requested} requested, ${s.available} available`)
    .join('; ');
}

function decide(command: InventorySagaCommand) {
  const { orderId } = command.data;
  switch (command.type) {
    case 'ReserveStock':
      return mapDecision(reservation(orderId, command.data.lines), (outcome) =>
        outcome.outcome === 'reserved'
          ? success({ orderId })
          : failure('INSUFFICIENT_STOCK', shortageMessage(outcome), {
              shortages: outcome.shortages,
            }),
      );
    case 'ReleaseStock':
      return mapDecision(release(orderId, command.data.skus), () => success({ orderId }));
    case 'CommitStock':
      return mapDecision(commitment(orderId, command.data.skus), (outcome) =>
        outcome.outcome === 'committed'
          ? success({ orderId })
          : failure(
              'RESERVATION_NOT_FOUND',
              `order ${orderId} holds no units of ${outcome.skus.join(', ')}`,
              { skus: outcome.skus },
            ),
      );
    default:
      return assertNever(command);
  }
}

@Injectable()
export class InventoryParticipant implements OnModuleInit {
  constructor(
    @Inject(MessageConsumers) private readonly consumers: MessageConsumers,
    @Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler,
  ) {}

  onModuleInit(): void {
    this.consumers.consume(
      participantConsumer(this.handler, {
        topic: INVENTORY_COMMANDS_TOPIC,
        schema: inventorySagaCommandSchema,
        decide,
      }),
    );
  }
}
