// What the store knows of each event type: the schema version it writes now, how to validate
// an event before it is appended, and the upcasters that bring older stored versions up to the
// current one on every read path.
import type { PersonalFields, Upcaster } from '@es/schema';
import { EventValidationError } from '../store/errors';

export interface EventSchema {
  readonly type: string;
  /** The version new events of this type are written with. */
  readonly schemaVersion: number;
  /** Returns the problems with `data`, each naming its field; empty when valid. */
  validate(data: unknown): readonly string[];
  /** Its personal fields: sealed before they are written (docs/privacy.md). */
  readonly personal?: PersonalFields;
}

export type { Upcaster };

export interface StoredShape {
  readonly type: string;
  readonly schemaVersion: number;
  readonly data: unknown;
}

export class EventRegistry {
  private readonly schemas = new Map<string, EventSchema>();
  private readonly upcasters = new Map<string, Upcaster>();

  constructor(schemas: readonly EventSchema[] = [], upcasters: readonly Upcaster[] = []) {
    for (const s of schemas) {
      if (this.schemas.has(s.type)) throw new Error(`event type ${s.type} registered twice`);
      // The events table takes the store's word for it (no CHECK, schema.ts migration 3).
      if (!Number.isInteger(s.schemaVersion) || s.schemaVersion < 1) {
        throw new RangeError(
          `event type ${s.type}: schemaVersion must be a positive integer, got ${s.schemaVersion}`,
        );
      }
      this.schemas.set(s.type, s);
    }
    for (const u of upcasters) {
      const key = `${u.type}@${u.fromVersion}`;
      if (this.upcasters.has(key)) throw new Error(`two upcasters for ${key}`);
      this.upcasters.set(key, u);
    }
  }

  /** Validates an event about to be appended and says which schema version it is written with. */
  prepare(type: string, data: unknown): number {
    const schema = this.schemaOf(type);
    const problems = schema.validate(data);
    if (problems.length > 0) throw new EventValidationError(type, problems);
    return schema.schemaVersion;
  }

  /** The version an event type is written with (its data validated already). */
  schemaVersionOf(type: string): number {
    return this.schemaOf(type).schemaVersion;
  }

  private schemaOf(type: string): EventSchema {
    const schema = this.schemas.get(type);
    if (!schema) throw new EventValidationError(type, [`unknown event type '${type}'`]);
    return schema;
  }

  /** The personal fields an event type declares, if any. */
  personalOf(type: string): PersonalFields | undefined {
    return this.schemas.get(type)?.personal;
  }

  /** The event types that declare personal fields. */
  personalTypes(): string[] {
    return [...this.schemas.values()].filter((s) => s.personal).map((s) => s.type);
  }

  /** Applies the upcaster chain until no upcaster applies (the current version). */
  upcast(stored: StoredShape): StoredShape {
    let current = stored;
    for (let guard = 0; guard < 100; guard++) {
      const upcaster = this.upcasters.get(`${current.type}@${current.schemaVersion}`);
      if (!upcaster) return current;
      const next = upcaster.upcast(current.data);
      current = {
        type: next.type ?? current.type,
        schemaVersion: current.schemaVersion + 1,
        data: next.data,
      };
    }
    throw new Error(`upcaster chain for ${stored.type}@${stored.schemaVersion} does not end`);
  }
}
