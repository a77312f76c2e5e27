// The inventory context's contracts: filled by the issue "Order, inventory and payment services".
// The project exists now so the lint's layering rules (type:contracts, scope:inventory) are in force.
export {};
