// Readiness checks: each names a dependency and throws when it cannot serve. /health/ready
// runs them concurrently, each bounded by a timeout, and reports every failure by name.
import type { Admin, Kafka } from 'kafkajs';
import type { MongoClient } from 'mongodb';
import type { Pool } from 'pg';

export interface ReadinessCheck {
  readonly name: string;
  check(): Promise<void>;
  /** Releases what the check itself holds open (not the dependency it checks). */
  close?(): Promise<void>;
}

export interface CheckResult {
  readonly status: 'up' | 'down';
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
        return [c.name, { status: 'up', ms: Math.round(performance.now() - started) }];
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        return [
          c.name,
          { status: 'down', error: message, ms: Math.round(performance.now() - started) },
        ];
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return {
    ready: results.every(([, r]) => r.status === 'up'),
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

export function kafkaReadiness(kafka: Kafka): ReadinessCheck {
  let admin: Admin | undefined;
  return {
    name: 'kafka',
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
