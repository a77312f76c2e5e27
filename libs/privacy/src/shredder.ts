// Personal fields sealed before they are written and opened when read (docs/privacy.md). An
// event schema declares which of its fields are personal and which field names their data
// subject; the rule lives with the contract, and nothing else need know about keys.
import { ERASED, isSealed, open, seal } from './envelope';
import type { KeyStore } from './key-store';

export interface PersonalData {
  /** The field that holds the data subject's id (an opaque customer id), kept in the clear. */
  readonly subject: string;
  /** The personal fields, by path (`email`, `shippingAddress`, `holder.name`), sealed whole. */
  readonly fields: readonly string[];
}

type Data = Readonly<Record<string, unknown>>;

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
    const present = personal.fields.filter((f) => {
      const value = read(data, f.split('.'));
      return value !== undefined && !isSealed(value);
    });
    if (present.length === 0) return data;
    const key = await this.keys.keyFor(this.subjectOf(data, personal));
    let sealed: Data = data;
    for (const field of present)
      sealed = write(sealed, field.split('.'), seal(key, field, read(data, field.split('.'))));
    return sealed as T;
  }

  /**
   * A copy with every sealed value found anywhere in `data` opened (or `{ $erased: true }`),
   * each by the path it is found at: a reader needs no declaration, so an event of an older
   * schema version, or a payload from another service, opens as it is.
   */
  async open<T>(data: T): Promise<T> {
    const walk = async (value: unknown, path: string): Promise<unknown> => {
      if (isSealed(value)) {
        const key = await this.keys.key(value.key);
        return key === 'erased' ? ERASED : open(key, path, value);
      }
      if (Array.isArray(value))
        return Promise.all(value.map((item, i) => walk(item, `${path}.${i}`)));
      if (typeof value === 'object' && value !== null) {
        const entries = await Promise.all(
          Object.entries(value).map(
            async ([name, inner]) =>
              [name, await walk(inner, path ? `${path}.${name}` : name)] as const,
          ),
        );
        return Object.fromEntries(entries);
      }
      return value;
    };
    return (await walk(data, '')) as T;
  }
}
