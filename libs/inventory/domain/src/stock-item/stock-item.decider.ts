// A stock item per SKU: on hand, reserved for orders, and available (on hand less reserved),
// which no command can take below zero. A SKU never stocked is unknown: reserving it is refused
// as UNKNOWN_SKU, not as short stock. An order's lines over several SKUs are reserved all or
// none by the service, which decides every SKU and appends them in one transaction.
import { DomainError, assertNever, withoutKey, type Decider } from '@es/decider';
import type { StockItemEvent } from '@es/inventory-contracts';
import type { StockItemCommand } from './stock-item.commands';
import { available, type StockItemState } from './stock-item.state';

function decide(command: StockItemCommand, state: StockItemState): readonly StockItemEvent[] {
  switch (command.type) {
    case 'Restock': {
      const onHand = state.status === 'STOCKED' ? state.onHand : 0;
      if (!Number.isSafeInteger(onHand + command.quantity))
        throw new DomainError('STOCK_TOO_LARGE', 'on-hand stock would be too large', {
          onHand,
          quantity: command.quantity,
        });
      return [{ type: 'StockRestocked', data: { sku: command.sku, quantity: command.quantity } }];
    }
    case 'ReserveStock': {
      if (state.status === 'STOCKED') {
        const held = state.reservations[command.orderId];
        if (held === command.quantity) return []; // the same reservation again
        if (held !== undefined)
          throw new DomainError(
            'RESERVATION_CONFLICT',
            `order ${command.orderId} already holds ${held} units of ${state.sku}`,
            { orderId: command.orderId, held, requested: command.quantity },
          );
      }
      if (state.status !== 'STOCKED')
        throw new DomainError('UNKNOWN_SKU', 'the inventory has never stocked this SKU', {
          requested: command.quantity,
        });
      const free = available(state);
      if (free < command.quantity)
        throw new DomainError(
          'INSUFFICIENT_STOCK',
          `${command.quantity} requested, ${free} available`,
          { requested: command.quantity, available: free },
        );
      return [
        {
          type: 'StockReserved',
          data: { sku: state.sku, orderId: command.orderId, quantity: command.quantity },
        },
      ];
    }
    case 'ReleaseStock': {
      const held = state.status === 'STOCKED' ? state.reservations[command.orderId] : undefined;
      if (state.status !== 'STOCKED' || held === undefined) return []; // nothing held: done
      return [
        {
          type: 'StockReservationReleased',
          data: { sku: state.sku, orderId: command.orderId, quantity: held },
        },
      ];
    }
    case 'CommitStock': {
      const held = state.status === 'STOCKED' ? state.reservations[command.orderId] : undefined;
      if (state.status !== 'STOCKED' || held === undefined)
        throw new DomainError(
          'RESERVATION_NOT_FOUND',
          `order ${command.orderId} holds no units of this SKU`,
          { orderId: command.orderId },
        );
      return [
        {
          type: 'StockReservationCommitted',
          data: { sku: state.sku, orderId: command.orderId, quantity: held },
        },
      ];
    }
    case 'ReturnStock': {
      if (state.status !== 'STOCKED')
        throw new DomainError('UNKNOWN_SKU', 'the inventory has never stocked this SKU', {
          orderId: command.orderId,
        });
      if (!Number.isSafeInteger(state.onHand + command.quantity))
        throw new DomainError('STOCK_TOO_LARGE', 'on-hand stock would be too large', {
          onHand: state.onHand,
          quantity: command.quantity,
        });
      return [
        {
          type: 'StockReturned',
          data: { sku: state.sku, orderId: command.orderId, quantity: command.quantity },
        },
      ];
    }
    default:
      return assertNever(command);
  }
}

function evolve(state: StockItemState, event: StockItemEvent): StockItemState {
  if (event.type === 'StockRestocked') {
    return state.status === 'STOCKED'
      ? { ...state, onHand: state.onHand + event.data.quantity }
      : {
          status: 'STOCKED',
          sku: event.data.sku,
          onHand: event.data.quantity,
          reservations: {},
          reserved: 0,
        };
  }
  if (state.status !== 'STOCKED') return state;
  const { orderId, quantity } = event.data;
  switch (event.type) {
    case 'StockReserved':
      return {
        ...state,
        reservations: { ...state.reservations, [orderId]: quantity },
        reserved: state.reserved + quantity,
      };
    case 'StockReservationReleased':
      return {
        ...state,
        reservations: withoutKey(state.reservations, orderId),
        reserved: state.reserved - quantity,
      };
    case 'StockReservationCommitted':
      return {
        ...state,
        onHand: state.onHand - quantity,
        reservations: withoutKey(state.reservations, orderId),
        reserved: state.reserved - quantity,
      };
    case 'StockReturned':
      return { ...state, onHand: state.onHand + quantity };
    default:
      return assertNever(event);
  }
}

export const stockItemDecider: Decider<StockItemCommand, StockItemEvent, StockItemState> = {
  initialState: () => ({ status: 'UNKNOWN' }),
  decide,
  evolve,
};
