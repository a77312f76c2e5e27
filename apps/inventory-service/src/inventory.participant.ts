// Inventory's part in the order saga and the order cancellation: the commands on `inventory.commands`, each decided here,
// handled once (inbox) and answered on `sagas.replies` in the append of its effect.
import { assertNever } from '@es/decider';
import { mapDecision } from '@es/event-store';
import {
  INVENTORY_COMMANDS_TOPIC,
  inventorySagaCommandSchema,
  type InventorySagaCommand,
} from '@es/inventory-contracts';
import { failure, success } from '@es/saga-contracts';
import type { ParticipantDefinition } from '@es/saga-participant';
import {
  commitment,
  release,
  reservation,
  stockReturn,
  type ReservationOutcome,
} from './inventory.commands';

function shortageMessage(outcome: Extract<ReservationOutcome, { outcome: 'insufficient-stock' }>) {
  return outcome.shortages
    .map((s) => `${s.sku}: ${s.requested} requested, ${s.available} available`)
    .join('; ');
}

const unknownMessage = (skus: readonly string[]) =>
  `the inventory has never stocked ${skus.join(', ')}`;

function decide(command: InventorySagaCommand) {
  const { orderId } = command.data;
  switch (command.type) {
    case 'ReserveStock':
      return mapDecision(reservation(orderId, command.data.lines), (outcome) => {
        switch (outcome.outcome) {
          case 'reserved':
            return success({ orderId });
          case 'unknown-sku':
            return failure('UNKNOWN_SKU', unknownMessage(outcome.skus), { skus: outcome.skus });
          case 'insufficient-stock':
            return failure('INSUFFICIENT_STOCK', shortageMessage(outcome), {
              shortages: outcome.shortages,
            });
        }
      });
    case 'ReturnStock':
      return mapDecision(stockReturn(orderId, command.data.lines), (outcome) =>
        outcome.outcome === 'returned'
          ? success({ orderId })
          : failure('UNKNOWN_SKU', unknownMessage(outcome.skus), { skus: outcome.skus }),
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

/** Inventory's participant: reservations, releases, commitments and returns of an order's stock. */
export const inventoryParticipant: ParticipantDefinition<InventorySagaCommand> = {
  topic: INVENTORY_COMMANDS_TOPIC,
  schema: inventorySagaCommandSchema,
  decide,
};
