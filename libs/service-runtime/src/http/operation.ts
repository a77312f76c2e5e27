// Routes from operations (libs/http-api): `@Route(op)` maps the handler to the operation's method
// and path, and every request to it is checked against the operation's schemas before the
// handler runs - path parameters, query, declared headers and body, every problem in one 400,
// then the body's rules (a 422). `@Input('body')` hands the handler the parsed values.
import {
  HttpCode,
  Injectable,
  RequestMapping,
  RequestMethod,
  SetMetadata,
  applyDecorators,
  createParamDecorator,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import type { Observable } from 'rxjs';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { expressPath, pathMatcher, type AnyOperation } from '@es/http-api';
import { InvalidInputError, parse, z, type FieldProblem } from '@es/schema';
import { UnprocessableInput, sendProblem } from './problem.filter';

export const OPERATION = 'es:http-operation';

export function Route(operation: AnyOperation): MethodDecorator {
  const success =
    Object.keys(operation.responses)
      .map(Number)
      .find((status) => status >= 200 && status < 300) ?? 200;
  return applyDecorators(
    RequestMapping({
      path: expressPath(operation.path),
      method: operation.method === 'get' ? RequestMethod.GET : RequestMethod.POST,
    }),
    HttpCode(success),
    SetMetadata(OPERATION, operation),
  );
}

export interface ParsedInput {
  readonly params: unknown;
  readonly query: unknown;
  readonly body: unknown;
}

const nothing = z.strictObject({});

function parsePart(
  schema: z.ZodType,
  value: unknown,
  problems: FieldProblem[],
  field?: string,
): unknown {
  const parsed = parse(schema, value);
  if (parsed.ok) return parsed.value;
  problems.push(
    ...parsed.problems.map((p) => (field === undefined ? p : { field, problem: p.problem })),
  );
  return undefined;
}

/** The request's input as the operation declares it; a 400 or a 422 otherwise. */
export function parseInput(operation: AnyOperation, request: Request): ParsedInput {
  const problems: FieldProblem[] = [];
  const params = parsePart(operation.params ?? nothing, request.params, problems);
  const query = parsePart(operation.query ?? nothing, request.query, problems);
  for (const header of operation.headers ?? []) {
    const value = request.headers[header.name.toLowerCase()];
    if (value === undefined) {
      if (header.required) problems.push({ field: header.name, problem: 'is required' });
    } else parsePart(header.schema, value, problems, header.name);
  }
  const body = request.body as unknown;
  let parsedBody: unknown;
  if (operation.body) parsedBody = parsePart(operation.body.schema, body, problems);
  else if (body !== undefined)
    problems.push({ field: '(body)', problem: 'this operation takes no body' });
  if (problems.length > 0) throw new InvalidInputError(problems, 'request');
  const broken = operation.body?.rules?.(parsedBody) ?? [];
  if (broken.length > 0) throw new UnprocessableInput(broken);
  return { params, query, body: parsedBody };
}

const parsedInputs = new WeakMap<Request, ParsedInput>();

/** The request's input as parsed already (the guard parses it for an ownership check). */
export function rememberInput(request: Request, input: ParsedInput): void {
  parsedInputs.set(request, input);
}

/** Checks every routed request against its operation before the handler runs. */
@Injectable()
export class OperationInput implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const operation = Reflect.getMetadata(OPERATION, context.getHandler()) as
      AnyOperation | undefined;
    if (operation) {
      const request = context.switchToHttp().getRequest<Request>();
      if (!parsedInputs.has(request)) parsedInputs.set(request, parseInput(operation, request));
    }
    return next.handle();
  }
}

/** The parsed path parameters, query or body of a `@Route` handler's request. */
export const Input = createParamDecorator(
  (part: keyof ParsedInput, context: ExecutionContext): unknown => {
    const parsed = parsedInputs.get(context.switchToHttp().getRequest<Request>());
    if (!parsed) throw new Error(`@Input('${part}') on a handler without @Route`);
    return parsed[part];
  },
);

/**
 * 405 with `Allow` for a method an existing path does not serve (RFC 9110, 15.5.6), and OPTIONS
 * answered with the methods it does; any other path falls through to routing (and its 404).
 */
export function methodNotAllowed(operations: readonly AnyOperation[]): RequestHandler {
  const byPath = new Map<string, { matcher: RegExp; methods: Set<string> }>();
  for (const operation of operations) {
    const entry = byPath.get(operation.path) ?? {
      matcher: pathMatcher(operation.path),
      methods: new Set<string>(),
    };
    entry.methods.add(operation.method.toUpperCase());
    if (operation.method === 'get') entry.methods.add('HEAD');
    byPath.set(operation.path, entry);
  }
  const paths = [...byPath.values()];
  return (request: Request, response: Response, next: NextFunction) => {
    const methods = new Set<string>();
    for (const { matcher, methods: served } of paths)
      if (matcher.test(request.path)) for (const m of served) methods.add(m);
    if (methods.size === 0 || methods.has(request.method)) {
      next();
      return;
    }
    const allow = [...methods, 'OPTIONS'].join(', ');
    response.setHeader('Allow', allow);
    if (request.method === 'OPTIONS') {
      response.status(204).end();
      return;
    }
    sendProblem(response, request, {
      status: 405,
      detail: `${request.method} is not served at ${request.path}; it serves ${allow}`,
    });
  };
}
