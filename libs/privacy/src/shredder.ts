// Personal fields sealed before they are written and opened when read (docs/privacy.md). An
// event schema declares which of its fields are personal and which field names their data
// subject; the rule lives with the contract, and nothing else need know about keys.
import { ERASED, isSealed, open, seal } from './envelope';
import type { DataKey } from './envelope';
import type { KeyStore } from './key-store';
import type { PersonalFields } from '@es/schema';

/** What an event schema declares personal: its subject's field and the fields to seal. */
export type PersonalData = PersonalFields;

type Data = Readonly<Record<string, unknown>>;

/**
 * What a sealed value is bound to besides its key: the name of the field it lies in (the last
 * name of its path, array indexes aside). A read model may keep it deeper (`contact.name`,
 * `orders.3.contact.name`) and it still opens; in a field of another name (an `email` sealed
 * as `name`) it does not.
 */
export function fieldNameOf(path: string): string {
  const names = path.split('.').filter((name) => !/^[0-9]+$/.test(name));
  return names.at(-1) ?? '';
}

function read(data: unknown, path: readonly string[]): unknown {
  let at = data;
  for (const name of path) {
    if (typeof at !== 'object' || at === null) return undefined;
    at = (at as Record<string, unknown>)[name];
  }
  return at;
}

/** A copy of `data` with the value at `path` replaced; the rest shared. */
function write(data: Data, path: readonly string[], value: unknown): Data {
  const [name, ...rest] = path;
  if (name === undefined) return data;
  const inner = data[name];
  return {
    ...data,
    [name]:
      rest.length === 0
        ? value
        : write(typeof inner === 'object' && inner !== null ? (inner as Data) : {}, rest, value),
  };
}

export class Shredder {
  constructor(private readonly keys: KeyStore) {}

  /** The subject a record's personal data belongs to. */
  subjectOf(data: Data, personal: PersonalData): string {
    const subject = read(data, personal.subject.split('.'));
    if (typeof subject !== 'string' || subject === '')
      throw new Error(`personal data without its subject: '${personal.subject}' is not set`);
    return subject;
  }

  /** A copy with every personal field present sealed (absent ones stay absent). */
  async seal<T extends Data>(data: T, personal: PersonalData): Promise<T> {
    const present = unsealed(data, personal);
    if (present.length === 0) return data;
    return sealFields(await this.keys.keyFor(this.subjectOf(data, personal)), data, present);
  }

  /**
   * The same, at once, when the subject's key is in memory (a cache that has it: see
   * KeyStore.keyForNow); undefined when it is not, and seal() must ask the store. A caller that
   * batches what is submitted in one turn (the event store's group commit) keeps its batches
   * whole this way.
   */
  sealNow<T extends Data>(data: T, personal: PersonalData): T | undefined {
    const present = unsealed(data, personal);
    if (present.length === 0) return data;
    const key = this.keys.keyForNow?.(this.subjectOf(data, personal));
    return key && sealFields(key, data, present);
  }

  /**
   * A copy with every sealed value found anywhere in `data` opened (or `{ erased: true }`),
   * each by the name of the field it is found in: a reader needs no declaration, so an event
   * of an older schema version, or a payload from another service, opens as it is. `data`
   * itself when nothing in it is sealed (no copy, no lookup); each key asked for once.
   */
  async open<T>(data: T): Promise<T> {
    const ids = new Set<string>();
    sealedKeys(data, ids);
    if (ids.size === 0) return data;
    const keys = new Map(
      await Promise.all([...ids].map(async (id) => [id, await this.keys.key(id)] as const)),
    );
    const walk = (value: unknown, path: string): unknown => {
      if (isSealed(value)) {
        const key = keys.get(value.key);
        return key === 'erased' || key === undefined ? ERASED : open(key, fieldNameOf(path), value);
      }
      if (Array.isArray(value)) return value.map((item, i) => walk(item, `${path}.${i}`));
      if (typeof value === 'object' && value !== null)
        return Object.fromEntries(
          Object.entries(value).map(([name, inner]) => [
            name,
            walk(inner, path ? `${path}.${name}` : name),
          ]),
        );
      return value;
    };
    return walk(data, '') as T;
  }

  /** Another process erased the subject: its keys are no longer read from memory here. */
  forget(subject: string): void {
    this.keys.forget?.(subject);
  }
}

/** The declared personal fields present in `data` and not sealed yet. */
function unsealed(data: Data, personal: PersonalData): string[] {
  return personal.fields.filter((f) => {
    const value = read(data, f.split('.'));
    return value !== undefined && !isSealed(value);
  });
}

function sealFields<T extends Data>(key: DataKey, data: T, fields: readonly string[]): T {
  let sealed: Data = data;
  for (const field of fields) {
    const path = field.split('.');
    sealed = write(sealed, path, seal(key, fieldNameOf(field), read(data, path)));
  }
  return sealed as T;
}

/** The ids of the keys the sealed values in `value` name. */
function sealedKeys(value: unknown, into: Set<string>): void {
  if (isSealed(value)) into.add(value.key);
  else if (Array.isArray(value)) for (const item of value) sealedKeys(item, into);
  else if (typeof value === 'object' && value !== null)
    for (const inner of Object.values(value)) sealedKeys(inner, into);
}
