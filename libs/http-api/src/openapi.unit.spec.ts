// The documents are generated from the operations: given an operation, when its document is
// written, then every parameter, header, body and answer is there with its schema; and an
// operation that contradicts its own path template is refused.
import { z } from '@es/schema';
import {
  IF_MATCH,
  commandExchange,
  consistencyTokenText,
  acceptedSchema,
  queryInteger,
  queryIntegerOr,
} from './common';
import { defineOperation, pathMatcher, type ServiceApi } from './operation';
import { operationObject, serviceDocument, systemDocument } from './openapi';
import { platformOperations } from './platform';

const restock = defineOperation({
  operationId: 'restock',
  method: 'post',
  path: '/things/{sku}/restock',
  access: { roles: ['staff'], owner: { in: 'body', field: 'customerId' } },
  summary: 'restock',
  tags: ['things'],
  params: z.strictObject({ sku: z.string().regex(/^[A-Z]+$/) }),
  query: z.strictObject({ limit: queryIntegerOr(1, 9, 3), note: z.string().optional() }),
  body: { schema: z.strictObject({ quantity: z.number().int().positive() }), required: true },
  ...commandExchange({
    ifMatch: true,
    body: true,
    accepted: { description: 'ok', schema: acceptedSchema({ sku: z.string() }) },
    refusals: 'no',
  }),
});

describe('an operation as OpenAPI 3.1', () => {
  const doc = operationObject(restock) as {
    parameters: { name: string; in: string; required: boolean; schema: object }[];
    requestBody: { required: boolean; content: Record<string, { schema: object }> };
    responses: Record<string, { content?: Record<string, { schema: object }>; headers?: object }>;
    security: object[];
    description: string;
  };

  it('lists path, query and header parameters with their schemas and required-ness', () => {
    expect(doc.parameters.map((p) => [p.in, p.name, p.required])).toEqual([
      ['path', 'sku', true],
      ['query', 'limit', false],
      ['query', 'note', false],
      ['header', 'Idempotency-Key', false],
      ['header', 'X-Correlation-Id', false],
      ['header', 'If-Match', false],
    ]);
    expect(doc.parameters[0]?.schema).toEqual({ type: 'string', pattern: '^[A-Z]+$' });
    expect(doc.parameters[1]).toMatchObject({ description: '1-9, default 3' });
    expect(doc.parameters[1]?.schema).toEqual({
      type: 'integer',
      minimum: 1,
      maximum: 9,
      default: 3,
    });
  });

  it('has a required JSON body and every answer, errors as problem+json', () => {
    expect(doc.requestBody.required).toBe(true);
    expect(Object.keys(doc.requestBody.content)).toEqual(['application/json']);
    expect(Object.keys(doc.responses).sort()).toEqual([
      '202',
      '400',
      '401',
      '403',
      '409',
      '413',
      '415',
      '422',
      '503',
    ]);
    for (const status of ['400', '401', '403', '409', '413', '415', '422', '503'])
      expect(doc.responses[status]?.content).toEqual({
        'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } },
      });
    expect(doc.responses['202']?.headers).toHaveProperty('ETag');
  });

  it('says who may call it: behind a bearer token, for staff or a customer for themself', () => {
    expect(doc.security).toEqual([{ bearer: [] }]);
    expect(doc.description).toMatch(/Who: staff, a customer, for themself \(body\.customerId\)\./);
    const open = operationObject({ ...restock, access: { open: true } }) as typeof doc;
    expect(open.security).toEqual([]);
    expect(Object.keys(open.responses)).not.toContain('401');
  });

  it('refuses an operation whose path template and parameters disagree', () => {
    expect(() =>
      operationObject({ ...restock, params: z.strictObject({ id: z.string() }) }),
    ).toThrow(/\{sku\} but its params declare id/);
  });
});

describe('documents', () => {
  const api = (name: string, port: number): ServiceApi => ({
    name,
    title: name,
    description: name,
    defaultPort: port,
    operations: [...platformOperations],
  });

  it('a service document is 3.1 with the Problem schema and its own server', () => {
    const doc = serviceDocument({ ...api('a', 1), operations: [restock] }, '1.0.0');
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.components.schemas).toHaveProperty('Problem');
    expect(doc.servers).toEqual([expect.objectContaining({ url: 'http://127.0.0.1:1' })]);
  });

  it('refuses two operations with one id', () => {
    expect(() =>
      serviceDocument(
        { ...api('a', 1), operations: [restock, { ...restock, path: '/other/{sku}' }] },
        '1',
      ),
    ).toThrow(/two operations are called restock/);
  });

  it('the system document serves a shared path from every service that has it', () => {
    const doc = systemDocument([api('a', 1), api('b', 2)], {
      title: 't',
      description: 'd',
      version: '1',
    });
    expect((doc.paths['/health/live'] as { servers: { url: string }[] }).servers).toEqual([
      expect.objectContaining({ url: 'http://127.0.0.1:1', description: 'a' }),
      expect.objectContaining({ url: 'http://127.0.0.1:2', description: 'b' }),
    ]);
  });
});

describe('shared schemas', () => {
  it.each(['0x10', '1e1', ' 5', '5.0', ''])('an integer query parameter refuses %j', (text) => {
    expect(queryInteger(1, 100).safeParse(text).success).toBe(false);
  });
  it('an integer query parameter takes digits, within its bounds', () => {
    expect(queryInteger(1, 100).parse('42')).toBe(42);
    expect(queryInteger(1, 100).safeParse('101').success).toBe(false);
  });
  it('If-Match takes a strong tag or a bare version, and says why a weak one never matches', () => {
    expect(IF_MATCH.schema.safeParse('"3"').success).toBe(true);
    expect(IF_MATCH.schema.safeParse('3').success).toBe(true);
    expect(IF_MATCH.schema.safeParse('"3').success).toBe(false);
    expect(IF_MATCH.schema.safeParse('W/"3"').error?.issues[0]?.message).toMatch(/weak tag/);
  });
  it("a stream type's token refuses another type's", () => {
    expect(consistencyTokenText('stock-item').safeParse('stock-item/SKU-1@2').success).toBe(true);
    expect(consistencyTokenText('stock-item').safeParse('order/SKU-1@2').success).toBe(false);
    expect(consistencyTokenText('order').safeParse('order/o-1@0').success).toBe(false);
  });
  it('a path template matches concrete paths, one segment per parameter', () => {
    const matcher = pathMatcher('/orders/{id}/state');
    expect(matcher.test('/orders/o-1/state')).toBe(true);
    expect(matcher.test('/orders/o-1/x/state')).toBe(false);
    expect(matcher.test('/orders/state')).toBe(false);
  });
});
