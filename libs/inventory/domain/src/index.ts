// The inventory context's domain: filled by the issue "Order, inventory and payment services".
// The project exists now so the lint's layering rules (type:domain, scope:inventory) are in force.
export {};
