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
  /**
   * The same as seal, at once, when the subject's key is in memory; undefined when it is not.
   * Lets an append stay synchronous, so that group commit keeps whole the batches submitted
   * in one turn (an await before submitting split them: measured, groups of 8 became 2.6).
   */
  sealNow?<T extends Readonly<Record<string, unknown>>>(
    data: T,
    personal: PersonalFields,
  ): T | undefined;
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
      return { ...event, data: await cipher.seal(dataOf(event), personal) };
    }),
  );
}

/** The events sealed at once, or undefined when a key is not in memory (sealEvents must wait). */
export function sealEventsNow<E extends { readonly type: string; readonly data: unknown }>(
  events: readonly E[],
  personalOf: (type: string) => PersonalFields | undefined,
  cipher: PersonalDataCipher,
): E[] | undefined {
  if (!cipher.sealNow) return undefined;
  const sealed: E[] = [];
  for (const event of events) {
    const personal = personalOf(event.type);
    if (!personal) {
      sealed.push(event);
      continue;
    }
    const data = cipher.sealNow(dataOf(event), personal);
    if (data === undefined) return undefined;
    sealed.push({ ...event, data });
  }
  return sealed;
}

function dataOf(event: { readonly type: string; readonly data: unknown }): Record<string, unknown> {
  if (typeof event.data !== 'object' || event.data === null || Array.isArray(event.data))
    throw new TypeError(`${event.type} declares personal fields, but its data is no object`);
  return event.data as Record<string, unknown>;
}
