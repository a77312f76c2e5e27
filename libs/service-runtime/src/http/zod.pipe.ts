// Validates a body, a path parameter or a query with a schema; a failure is a 400 naming each
// bad field (`items[1].quantity`, or the parameter's name).
import { Injectable, type PipeTransform } from '@nestjs/common';
import { InvalidInputError, parse, type z } from '@es/schema';

export interface ZodPipeOptions {
  /** For a single value (a path parameter): its name, used as the field in problems. */
  readonly field?: string;
  /** What is validated, for the message: `request body` by default, `query`, ... */
  readonly what?: string;
}

@Injectable()
export class ZodPipe<T> implements PipeTransform<unknown, T> {
  constructor(
    private readonly schema: z.ZodType<T>,
    private readonly options: ZodPipeOptions = {},
  ) {}

  transform(value: unknown): T {
    const parsed = parse(this.schema, value);
    if (parsed.ok) return parsed.value;
    const { field, what } = this.options;
    throw new InvalidInputError(
      field === undefined
        ? parsed.problems
        : parsed.problems.map((p) => ({
            field: p.field === '(body)' ? field : `${field}.${p.field}`,
            problem: p.problem,
          })),
      what ?? (field === undefined ? 'request body' : `path parameter ${field}`),
    );
  }
}
