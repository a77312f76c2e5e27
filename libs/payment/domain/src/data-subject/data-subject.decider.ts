// A customer as a data subject (docs/privacy.md): each erasure of their personal data is
// recorded, once their keys are destroyed, with how many there were. Every request is recorded,
// a second erasure too (it destroys nothing more): the trail says who asked, and when.
import type { Decider } from '@es/decider';
import type { DataSubjectEvent } from '@es/payment-contracts';

export type DataSubjectCommand = {
  readonly type: 'RecordErasure';
  readonly customerId: string;
  readonly keysErased: number;
  readonly at: string;
};

export interface DataSubjectState {
  readonly erasures: number;
}

export const dataSubjectDecider: Decider<DataSubjectCommand, DataSubjectEvent, DataSubjectState> = {
  initialState: () => ({ erasures: 0 }),
  decide: ({ customerId, keysErased, at }) => [
    { type: 'DataSubjectErased', data: { customerId, keysErased, erasedAt: at } },
  ],
  evolve: (state) => ({ erasures: state.erasures + 1 }),
};
