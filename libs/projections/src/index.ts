// The read models the projection service builds: pure projections over the contexts' published
// events (libs/read-models runs them). The services read their documents through the contracts'
// read-model types.
import { customerAccount } from './customer-account.projection';
import { customerOrders } from './customer-orders.projection';
import { orderDetails } from './order-details.projection';
import { orderSummary } from './order-summary.projection';
import { stockAvailability } from './stock-availability.projection';

export { customerAccount, customerOrders, orderDetails, orderSummary, stockAvailability };
export * from './projections.http';
export { ORDER_SUMMARY_READ_MODEL } from './order-summary.projection';

/** Every read model the projection service builds. */
export const projections = [
  orderDetails,
  customerOrders,
  stockAvailability,
  customerAccount,
  orderSummary,
];
