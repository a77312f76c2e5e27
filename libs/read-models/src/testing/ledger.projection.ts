// A projection for the read-models library's own tests (integration and crash child): accounts
// credited by `Credited` events, each document counting the credits it applied, so a credit
// applied twice or lost shows in `credits` as well as in `balance`.
import { identifier, positiveInt, versioned, z, type EventOf } from '@es/schema';
import { defineProjection, type ProjectedEvent } from '../projection';

export const Credited = versioned(
  'Credited',
  1,
  z.strictObject({ account: identifier, amount: positiveInt }),
);

export interface LedgerDocument {
  readonly account: string;
  readonly balance: number;
  readonly credits: number;
  readonly version: number;
}

export function ledgerDefinition(topic: string, name = 'ledger') {
  return {
    name,
    description: 'Test ledger: balance and number of credits per account',
    topics: [topic],
    schemas: [Credited] as const,
    documentId: (event: ProjectedEvent<EventOf<typeof Credited>>) => event.data.account,
    evolve: (
      doc: LedgerDocument | null,
      event: ProjectedEvent<EventOf<typeof Credited>>,
    ): LedgerDocument => ({
      account: event.data.account,
      balance: (doc?.balance ?? 0) + event.data.amount,
      credits: (doc?.credits ?? 0) + 1,
      version: event.streamVersion,
    }),
  };
}

export function ledgerProjection(topic: string, name = 'ledger') {
  return defineProjection(ledgerDefinition(topic, name));
}

/** The envelope the relay would publish for the account's credit at `version`. */
export function credit(account: string, version: number, amount: number) {
  return {
    eventId: `${account}-${version}`,
    type: 'Credited',
    schemaVersion: 1,
    streamType: 'ledger',
    streamId: account,
    streamVersion: version,
    globalPosition: String(version),
    recordedAt: new Date().toISOString(),
    data: { account, amount },
    metadata: { correlationId: account },
  };
}
