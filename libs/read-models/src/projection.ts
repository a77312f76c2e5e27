// A projection (docs/decisions.md, Read models): a pure `evolve(doc | null, event) -> doc | null` per
// query slice, the event types it handles, and which document each event updates. Everything
// else (Kafka, MongoDB, checkpoints, rebuilds) is the runner's; a projection is tested by folding
// events, with the same guards the runner applies (`projectionSpec`).
import { EventRegistry, type Upcaster } from '@es/event-store';
import type { EventEnvelope } from '@es/messaging';
import { parse, type EventOf, type VersionedSchema } from '@es/schema';

/** An envelope whose data was checked against the projection's schema for its type. */
export type ProjectedEvent<E extends { readonly type: string; readonly data: unknown }> = Omit<
  EventEnvelope,
  'type' | 'data'
> &
  E;

export interface IndexDefinition {
  readonly name: string;
  readonly keys: Readonly<Record<string, 1 | -1>>;
}

export interface ProjectionDefinition<
  Schemas extends readonly VersionedSchema[],
  Doc extends object,
> {
  /** Lower-case words joined by '-': names the collections and consumer groups. */
  readonly name: string;
  readonly description: string;
  readonly topics: readonly string[];
  /** The event types it handles (data validated against them); other types are skipped. */
  readonly schemas: Schemas;
  /** Bring older schema versions on the topics up to the schemas' versions. */
  readonly upcasters?: readonly Upcaster[];
  readonly indexes?: readonly IndexDefinition[];
  /** The document an event changes; undefined when this event changes none. */
  documentId(event: ProjectedEvent<EventOf<Schemas[number]>>): string | undefined;
  /** The document after the event (null: it no longer exists). Pure; must not mutate `doc`. */
  evolve(doc: Doc | null, event: ProjectedEvent<EventOf<Schemas[number]>>): Doc | null;
}

/** A projection as the runner sees it: events checked at the edge, then routed and folded. */
export interface Projection<Doc extends object = object> {
  readonly name: string;
  readonly description: string;
  readonly topics: readonly string[];
  readonly indexes: readonly IndexDefinition[];
  /**
   * The event ready for `evolve`, `undefined` for a type this projection does not handle, or the
   * reason it can never be projected (a poison message: wrong shape, unknown schema version).
   */
  prepare(envelope: EventEnvelope): EventEnvelope | undefined | { readonly poison: string };
  documentId(event: EventEnvelope): string | undefined;
  evolve(doc: Doc | null, event: EventEnvelope): Doc | null;
}

const NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const RESERVED_FIELDS = ['_id', '_meta'] as const;

export function defineProjection<
  const Schemas extends readonly VersionedSchema[],
  Doc extends object,
>(definition: ProjectionDefinition<Schemas, Doc>): Projection<Doc> {
  if (!NAME.test(definition.name))
    throw new Error(`projection name '${definition.name}' must be lower-case words joined by '-'`);
  const schemas = new Map<string, VersionedSchema>(definition.schemas.map((s) => [s.type, s]));
  const registry = new EventRegistry([], definition.upcasters ?? []);
  // The runner validated the event against its type's schema before these are called.
  type Typed = ProjectedEvent<EventOf<Schemas[number]>>;
  return {
    name: definition.name,
    description: definition.description,
    topics: definition.topics,
    indexes: definition.indexes ?? [],
    prepare(envelope) {
      const upcast = registry.upcast(envelope);
      const schema = schemas.get(upcast.type);
      if (!schema) return undefined;
      if (upcast.schemaVersion !== schema.schemaVersion)
        return {
          poison: `${upcast.type} schema version ${upcast.schemaVersion} cannot be read: this projection reads version ${schema.schemaVersion} and has no upcaster from it`,
        };
      const parsed = parse(schema.schema, upcast.data);
      if (!parsed.ok)
        return {
          poison: `${upcast.type} v${upcast.schemaVersion} does not match its schema: ${parsed.problems
            .map((p) => `${p.field}: ${p.problem}`)
            .join('; ')}`,
        };
      return {
        ...envelope,
        type: upcast.type,
        schemaVersion: upcast.schemaVersion,
        data: parsed.value,
      };
    },
    documentId: (event) => definition.documentId(event as Typed),
    evolve(doc, event) {
      const next = definition.evolve(doc, event as Typed);
      for (const field of RESERVED_FIELDS)
        if (next !== null && field in next)
          throw new Error(
            `${definition.name}: evolve returned a document with the reserved field ${field}`,
          );
      return next;
    },
  };
}
