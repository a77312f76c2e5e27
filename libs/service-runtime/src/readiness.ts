// Readiness checks: each names a dependency and throws when it cannot serve. /health/ready
// runs them concurrently, each bounded by a timeout, and reports every failure by name. The
// service is ready when every required dependency answers: one that is not required (Kafka for
// a service with an outbox, whose commands wait there for it) is reported down without taking
// the service out of rotation.
import type { Admin, Kafka } from 'kafkajs';
import type { MongoClient } from 'mongodb';
import type { Pool } from 'pg';

export interface ReadinessCheck {
  readonly name: string;
  /** Whether the service can take requests without it (default: it cannot). */
  readonly required?: boolean;
  check(): Promise<void>;
  /** Releases what the check itself holds open (not the dependency it checks). */
  close?(): Promise<void>;
}

export interface CheckResult {
  readonly status: 'up' | 'down';
  readonly required: boolean;
  readonly error?: string;
  readonly ms: number;
}

export interface ReadinessReport {
  readonly ready: boolean;
  readonly checks: Record<string, CheckResult>;
}

export async function runChecks(
  checks: readonly ReadinessCheck[],
  timeoutMs: number,
): Promise<ReadinessReport> {
  const results = await Promise.all(
    checks.map(async (c): Promise<[string, CheckResult]> => {
      const started = performance.now();
      const required = c.required ?? true;
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          c.check(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              reject(new Error(`no answer within ${timeoutMs} ms`));
            }, timeoutMs);
          }),
        ]);
        return [c.name, { status: 'up', required, ms: Math.round(performance.now() - started) }];
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        return [
          c.name,
          {
            status: 'down',
            required,
            error: message,
            ms: Math.round(performance.now() - started),
          },
        ];
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return {
    ready: results.every(([, r]) => r.status === 'up' || !r.required),
    checks: Object.fromEntries(results),
  };
}

export function postgresReadiness(pool: Pool): ReadinessCheck {
  return {
    name: 'postgres',
    check: async () => {
      await pool.query('SELECT 1');
    },
  };
}

export function kafkaReadiness(kafka: Kafka, { required }: { required: boolean }): ReadinessCheck {
  let admin: Admin | undefined;
  return {
    name: 'kafka',
    required,
    check: async () => {
      try {
        if (!admin) {
          admin = kafka.admin();
          await admin.connect();
        }
        const cluster = await admin.describeCluster();
        if (cluster.brokers.length === 0) throw new Error('cluster reports no brokers');
      } catch (error) {
        // Drop the admin client so the next check reconnects from scratch.
        const stale = admin;
        admin = undefined;
        await stale?.disconnect().catch(() => undefined);
        throw error;
      }
    },
    close: async () => {
      await admin?.disconnect();
      admin = undefined;
    },
  };
}

export function mongoReadiness(client: MongoClient): ReadinessCheck {
  return {
    name: 'mongodb',
    check: async () => {
      await client.db('admin').command({ ping: 1 });
    },
  };
}
