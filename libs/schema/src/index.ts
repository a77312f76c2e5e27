// Schemas for everything that crosses a boundary (HTTP bodies, events before they are appended,
// messages between contexts), with problems that name the field: `items[1].quantity: must be a
// positive integer`. One zod, one way of naming fields, for every service.
import { z } from 'zod';

export { z };

export interface FieldProblem {
  /** The field's path as a client writes it: `items[1].quantity`; `(body)` for the whole value. */
  readonly field: string;
  readonly problem: string;
}

export type Parsed<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly problems: readonly FieldProblem[] };

export function fieldOf(path: readonly PropertyKey[]): string {
  let field = '';
  for (const part of path) {
    if (typeof part === 'number') field += `[${part}]`;
    else field += field === '' ? String(part) : `.${String(part)}`;
  }
  return field === '' ? '(body)' : field;
}

// Messages for the cases zod words for programmers ("expected number, received undefined").
const messages: z.core.$ZodErrorMap = (issue) => {
  if (issue.code === 'invalid_type') {
    return issue.input === undefined ? 'is required' : `must be ${article(issue.expected)}`;
  }
  return undefined;
};

function article(expected: string): string {
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

export function problemsOf(error: z.ZodError): FieldProblem[] {
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({
          field: fieldOf([...issue.path, key]),
          problem: 'is not a known field',
        }))
      : [{ field: fieldOf(issue.path), problem: issue.message }],
  );
}

export function parse<T>(schema: z.ZodType<T>, input: unknown): Parsed<T> {
  const result = schema.safeParse(input, { error: messages });
  return result.success
    ? { ok: true, value: result.data }
    : { ok: false, problems: problemsOf(result.error) };
}

/** Bad input, each problem naming its field. */
export class InvalidInputError extends Error {
  constructor(
    readonly problems: readonly FieldProblem[],
    readonly what = 'input',
  ) {
    super(`invalid ${what}: ${problems.map((p) => `${p.field}: ${p.problem}`).join('; ')}`);
    this.name = 'InvalidInputError';
  }
}

export function parseOrThrow<T>(schema: z.ZodType<T>, input: unknown, what?: string): T {
  const parsed = parse(schema, input);
  if (!parsed.ok) throw new InvalidInputError(parsed.problems, what);
  return parsed.value;
}

// Building blocks of the domain's values (docs/architecture.md: money in integer minor units,
// quantities positive integers).
export const positiveInt = z
  .number()
  .int({ error: 'must be a whole number' })
  .positive({ error: 'must be greater than 0' })
  .max(Number.MAX_SAFE_INTEGER, { error: 'is too large' });

/** An amount of money in minor units (cents): a whole number, 0 or more. */
export const money = z
  .number()
  .int({ error: 'must be a whole number of minor units (cents)' })
  .nonnegative({ error: 'must not be negative' })
  .max(Number.MAX_SAFE_INTEGER, { error: 'is too large' });

/** Ids and SKUs: 1-128 characters, letters, digits and `._:-`, starting with a letter or digit. */
export const identifier = z
  .string()
  .min(1, { error: 'must not be empty' })
  .max(128, { error: 'must be at most 128 characters' })
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, {
    error: 'may hold only letters, digits and . _ : - (starting with a letter or digit)',
  });

/**
 * A command's consistency token as text, `order/o-1@3`: a stream type, its id and a version; of
 * one stream type only when given one. The event store decodes with it and the HTTP documents
 * publish it, so both accept the same texts.
 */
export function consistencyTokenPattern(streamType?: string): RegExp {
  const type =
    streamType === undefined
      ? '[A-Za-z0-9$][A-Za-z0-9._:$-]*'
      : streamType.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^(${type})\\/([A-Za-z0-9][A-Za-z0-9._:-]*)@([1-9][0-9]{0,9})$`);
}
export const CONSISTENCY_TOKEN_PATTERN = consistencyTokenPattern();

/** An ISO-8601 instant with its offset, e.g. 2026-11-23T10:00:00.000Z. */
export const isoInstant = z.iso.datetime({ offset: true, error: 'must be an ISO-8601 date-time' });

/**
 * A free-text reason a person reads: at most 500 characters, not blank, kept trimmed, and no
 * control characters but tab and line breaks (PostgreSQL's jsonb cannot hold U+0000 at all).
 */
export const reason = z
  .string()
  .max(500, { error: 'must be at most 500 characters' })
  // eslint-disable-next-line no-control-regex -- naming the control characters is the point
  .regex(/^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*$/, {
    error: 'must not hold control characters (tab and line breaks aside)',
  })
  .regex(/\S/, { error: 'must not be blank' })
  .trim();

// Personal data (docs/privacy.md): a person's name, email and address, as commands take them,
// and a personal field as events, messages and read models hold it: sealed under its data
// subject's key, or, once that subject is erased, the marker reads give.
const PRINTABLE = /^[^\x00-\x1F\x7F]*$/; // eslint-disable-line no-control-regex -- the point

function personalText(max: number) {
  return z
    .string()
    .max(max, { error: `must be at most ${max} characters` })
    .regex(PRINTABLE, { error: 'must not hold control characters' })
    .regex(/\S/, { error: 'must not be blank' })
    .trim();
}

/** A person's name as they give it: 1-200 characters. */
export const personName = personalText(200);

/** An email address: at most 254 characters (RFC 5321). */
export const emailAddress = z
  .email({ error: 'must be an email address' })
  .max(254, { error: 'must be at most 254 characters' });

/** A postal address; `country` an ISO 3166-1 alpha-2 code. */
export const postalAddress = z.strictObject({
  line1: personalText(200),
  line2: personalText(200).optional(),
  city: personalText(100),
  postalCode: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 -]{0,14}[A-Za-z0-9]$|^[A-Za-z0-9]$/, {
    error: 'must be 1-16 letters, digits, spaces or hyphens',
  }),
  country: z.string().regex(/^[A-Z]{2}$/, { error: 'must be an ISO 3166-1 alpha-2 code, e.g. FR' }),
});
export type PostalAddress = z.output<typeof postalAddress>;

/**
 * A personal field's value as it is stored: JSON, sealed under its subject's key (@es/privacy).
 * No `$` in its names, so a document store (the read models) keeps it as it is; exactly these
 * three fields, which no contract's strict schema has for a plain value. `key` is the data
 * key's id, `data` base64 of IV | GCM tag | ciphertext.
 */
export const sealedValue = z
  .strictObject({ sealed: z.literal('v1'), key: z.string().min(1), data: z.string().min(1) })
  .meta({ description: "Sealed under its data subject's key (AES-256-GCM)" });
/** What a personal field reads as once its subject is erased. */
export const erasedValue = z
  .strictObject({ erased: z.literal(true) })
  .meta({ description: 'Its data subject was erased: the value is gone' });

/** A personal field in an event: its value, sealed (as stored and published), or erased. */
export function personalField<T>(schema: z.ZodType<T>) {
  return z.union([schema, sealedValue, erasedValue]);
}

/** A personal field as a query answers it: its value, or erased. */
export function openedField<T>(schema: z.ZodType<T>) {
  return z.union([schema, erasedValue]);
}

/**
 * Which fields of an event are personal data and whose (docs/privacy.md): the event store seals
 * them under the data subject's key before they are written.
 */
export interface PersonalFields {
  /** The field holding the data subject's id (an opaque customer id): kept in the clear. */
  readonly subject: string;
  /** The personal fields, by path (`email`, `holder.name`); each sealed whole. */
  readonly fields: readonly string[];
}

/** An event type's schema at its current version, with the check the event store runs on append. */
export interface VersionedSchema<Type extends string = string, Data = unknown> {
  readonly type: Type;
  readonly schemaVersion: number;
  readonly schema: z.ZodType<Data>;
  /** Its personal fields, when it has any. */
  readonly personal?: PersonalFields;
  /** Problems with `data`, each as `field: problem`; empty when valid. */
  validate(data: unknown): readonly string[];
}

export function versioned<Type extends string, Data>(
  type: Type,
  schemaVersion: number,
  schema: z.ZodType<Data>,
  options: { readonly personal?: PersonalFields } = {},
): VersionedSchema<Type, Data> {
  return {
    type,
    schemaVersion,
    schema,
    ...(options.personal ? { personal: options.personal } : {}),
    validate: (data) => {
      const parsed = parse(schema, data);
      return parsed.ok ? [] : parsed.problems.map((p) => `${p.field}: ${p.problem}`);
    },
  };
}

/**
 * Turns (type, fromVersion) data into the next version's shape, possibly under a new type name:
 * the event store and the projections apply the chain on every read.
 */
export interface Upcaster {
  readonly type: string;
  readonly fromVersion: number;
  upcast(data: unknown): { readonly type?: string; readonly data: unknown };
}

/** The event union of a list of versioned schemas: `{ type, data }` per schema. */
export type EventOf<S> = S extends { type: infer T; schema: z.ZodType<infer D> }
  ? { readonly type: T; readonly data: D }
  : never;
