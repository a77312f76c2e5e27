// The order context's contracts: filled by the issue "Order, inventory and payment services".
// The project exists now so the lint's layering rules (type:contracts, scope:order) are in force.
export {};
