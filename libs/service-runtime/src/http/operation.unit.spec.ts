// Given an operation, when a request reaches it, then its input is what the schemas say or a
// problem naming each bad part: a 400 for what the document states, a 422 for a body rule.
import type { Request, Response } from 'express';
import { IF_MATCH, defineOperation } from '@es/http-api';
import { InvalidInputError, z } from '@es/schema';
import { methodNotAllowed, parseInput } from './operation';
import { ProblemError } from './problem.filter';

const operation = defineOperation({
  operationId: 'put',
  method: 'post',
  path: '/things/{id}',
  access: { open: true },
  summary: 'put',
  tags: [],
  params: z.strictObject({ id: z.string().regex(/^[a-z]+$/) }),
  query: z.strictObject({ dryRun: z.enum(['yes', 'no']).optional() }),
  headers: [IF_MATCH],
  body: {
    schema: z.strictObject({ names: z.array(z.string()) }),
    required: true,
    rules: ({ names }) =>
      new Set(names).size === names.length ? [] : [{ field: 'names', problem: 'twice' }],
  },
  responses: {},
});

const request = (parts: Partial<Record<'params' | 'query' | 'headers' | 'body', unknown>>) =>
  ({ params: {}, query: {}, headers: {}, ...parts }) as unknown as Request;

function problemsOf(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    if (error instanceof InvalidInputError) return { status: 400, fields: error.problems };
    if (error instanceof ProblemError) return error.parts;
    throw error;
  }
  return 'accepted';
}

describe('parseInput', () => {
  it('hands over the parsed parts of a good request', () => {
    expect(
      parseInput(
        operation,
        request({ params: { id: 'abc' }, query: { dryRun: 'yes' }, body: { names: ['a'] } }),
      ),
    ).toEqual({ params: { id: 'abc' }, query: { dryRun: 'yes' }, body: { names: ['a'] } });
  });

  it('names every bad part at once: parameter, query, header and body', () => {
    expect(
      problemsOf(() =>
        parseInput(
          operation,
          request({
            params: { id: 'A1' },
            query: { dryRun: 'maybe', extra: '1' },
            headers: { 'if-match': 'W/"1"' },
            body: { names: 'a' },
          }),
        ),
      ),
    ).toMatchObject({
      status: 400,
      fields: [
        { field: 'id' },
        { field: 'dryRun' },
        { field: 'extra', problem: 'is not a known field' },
        { field: 'If-Match', problem: expect.stringMatching(/weak tag/) as unknown },
        { field: 'names' },
      ],
    });
  });

  it('a missing required body is a 400; a body to an operation that takes none is too', () => {
    expect(problemsOf(() => parseInput(operation, request({ params: { id: 'a' } })))).toEqual({
      status: 400,
      fields: [{ field: '(body)', problem: 'is required' }],
    });
    const bodiless = { ...operation, body: undefined };
    expect(
      problemsOf(() => parseInput(bodiless, request({ params: { id: 'a' }, body: {} }))),
    ).toEqual({
      status: 400,
      fields: [{ field: '(body)', problem: 'this operation takes no body' }],
    });
  });

  it('a body that matches its schema but breaks a rule is a 422 naming the field', () => {
    expect(
      problemsOf(() =>
        parseInput(operation, request({ params: { id: 'a' }, body: { names: ['a', 'a'] } })),
      ),
    ).toMatchObject({ status: 422, code: 'RULE_BROKEN', extra: { fields: [{ field: 'names' }] } });
  });
});

describe('methodNotAllowed', () => {
  const run = (method: string, path: string) => {
    const answer: { status?: number; headers: Record<string, string>; passed: boolean } = {
      headers: {},
      passed: false,
    };
    const response = {
      setHeader: (name: string, value: string) => (answer.headers[name] = value),
      status: (status: number) => {
        answer.status = status;
        return response;
      },
      type: () => response,
      send: () => response,
      end: () => response,
    } as unknown as Response;
    methodNotAllowed([operation, { ...operation, method: 'get', operationId: 'get' }])(
      { method, path } as Request,
      response,
      () => (answer.passed = true),
    );
    return answer;
  };

  it('passes a served method and an unknown path to routing', () => {
    expect(run('POST', '/things/a').passed).toBe(true);
    expect(run('HEAD', '/things/a').passed).toBe(true);
    expect(run('DELETE', '/elsewhere').passed).toBe(true);
  });
  it('answers 405 with Allow for a method the path does not serve', () => {
    expect(run('TRACE', '/things/a')).toEqual({
      status: 405,
      headers: { Allow: 'POST, GET, HEAD, OPTIONS' },
      passed: false,
    });
  });
  it('answers OPTIONS with the methods it serves', () => {
    expect(run('OPTIONS', '/things/a')).toMatchObject({ status: 204, passed: false });
  });
});
