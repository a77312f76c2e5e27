// The operations every service serves: liveness, readiness and Prometheus metrics.
import { z } from '@es/schema';
import { defineOperation } from './operation';

const checkResult = z.strictObject({
  status: z.enum(['up', 'down']),
  /** false: the service takes requests without it (Kafka, for a service with an outbox). */
  required: z.boolean(),
  error: z.string().optional(),
  ms: z.number().nonnegative(),
});

export const readinessSchema = z.strictObject({
  status: z.enum(['ready', 'not ready']),
  service: z.string(),
  checks: z.record(z.string(), checkResult),
});

export const liveness = defineOperation({
  operationId: 'getLiveness',
  method: 'get',
  path: '/health/live',
  access: { open: true },
  summary: 'The process is up and serving HTTP',
  tags: ['health'],
  responses: {
    200: {
      description: 'Live',
      schema: z.strictObject({ status: z.literal('live'), service: z.string() }),
    },
  },
});

export const readiness = defineOperation({
  operationId: 'getReadiness',
  method: 'get',
  path: '/health/ready',
  access: { open: true },
  summary: 'Every engine the service needs answers',
  tags: ['health'],
  responses: {
    200: { description: 'Ready', schema: readinessSchema },
    503: {
      description: 'A required engine does not answer; its check says why',
      schema: readinessSchema,
    },
  },
});

export const metrics = defineOperation({
  operationId: 'getMetrics',
  method: 'get',
  path: '/metrics',
  access: { open: true },
  summary: 'Prometheus metrics (text exposition format)',
  tags: ['health'],
  responses: {
    200: {
      description: 'The metrics',
      schema: z.string(),
      contentType: 'text/plain',
    },
  },
});

export const platformOperations = [liveness, readiness, metrics] as const;
