// Personal data in the event store (docs/privacy.md): an event type declares its personal
// fields (EventSchema.personal), the store seals them after validating and before writing, so
// the events table, the outbox and what the relay publishes only ever hold the sealed form;
// a read that asks for it opens them before upcasting. The cipher is a port: @es/privacy's
// Shredder is the one the services use.
import type { PersonalFields } from '@es/schema';

export type { PersonalFields };

export interface PersonalDataCipher {
  /** A copy of `data` with the declared fields sealed under the subject's key. */
  seal<T extends Readonly<Record<string, unknown>>>(data: T, personal: PersonalFields): Promise<T>;
  /** A copy with every sealed value opened (an erased subject's as `{ erased: true }`). */
  open<T>(data: T): Promise<T>;
}

/** Events as the caller gave them and as they are written: the personal fields sealed. */
export async function sealEvents<E extends { readonly type: string; readonly data: unknown }>(
  events: readonly E[],
  personalOf: (type: string) => PersonalFields | undefined,
  cipher: PersonalDataCipher,
): Promise<E[]> {
  return Promise.all(
    events.map(async (event) => {
      const personal = personalOf(event.type);
      if (!personal) return event;
      if (typeof event.data !== 'object' || event.data === null || Array.isArray(event.data))
        throw new TypeError(`${event.type} declares personal fields, but its data is no object`);
      return { ...event, data: await cipher.seal(event.data as Record<string, unknown>, personal) };
    }),
  );
}
