// A customer's contact as POST /orders takes it (personal data, docs/privacy.md), for tests,
// benchmarks and the fault harness: made from the customer id, so each customer's is their own.

export interface Contact {
  readonly name: string;
  readonly email: string;
  readonly shippingAddress: {
    readonly line1: string;
    readonly city: string;
    readonly postalCode: string;
    readonly country: string;
  };
}

export function contactFor(customerId: string): Contact {
  const local = customerId.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 60) || 'customer';
  return {
    name: `Customer ${customerId}`,
    email: `${local}@example.invalid`,
    shippingAddress: {
      line1: '1 Test Street',
      city: 'Testville',
      postalCode: 'T1 1TT',
      country: 'GB',
    },
  };
}
