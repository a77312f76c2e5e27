// The payment context's domain: filled by the issue "Order, inventory and payment services".
// The project exists now so the lint's layering rules (type:domain, scope:payment) are in force.
export {};
