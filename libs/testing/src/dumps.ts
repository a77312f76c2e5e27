// Everything the system stored, as text, for a test that searches it (the erasure test,
// docs/privacy.md): every table of a PostgreSQL database, read by its owner, and every message
// of every Kafka topic, read by kcat (Debian's; a client no one here wrote), dead letters
// included. A dump is for a search, not for a restore.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'pg';
import { kafkaConfig, postgresConfig } from '@es/runtime-config';
import { loadStackEnv, workspaceRoot } from './stack';

/** Every row of every table of the database's public schema, as text, a table at a time. */
export async function dumpPostgresDatabase(database: string): Promise<string> {
  loadStackEnv();
  const pool = new Pool({ ...postgresConfig(database), max: 1 });
  try {
    const { rows: tables } = await pool.query<{ name: string }>(
      `SELECT format('%I.%I', table_schema, table_name) AS name FROM information_schema.tables
        WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`,
    );
    const lines: string[] = [];
    for (const { name } of tables) {
      lines.push(`# ${database} ${name}`);
      const { rows } = await pool.query<{ row: string }>(`SELECT t::text AS row FROM ${name} t`);
      for (const { row } of rows) lines.push(row);
    }
    return lines.join('\n');
  } finally {
    await pool.end();
  }
}

/** kcat, installed from Debian's packages when missing (as the stack installs what it needs). */
export function ensureKcat(): string {
  const root = workspaceRoot();
  execFileSync(
    'bash',
    [
      '-c',
      `. '${root}/infra/local/common.sh' && { command -v kcat >/dev/null || apt_install kcat; }`,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  return 'kcat';
}

/**
 * Every message of every topic of the cluster (or of `topics`), from its first offset to its
 * end when read: `# <topic>` then `<partition>@<offset> <key> <value>` a line. As the tools'
 * principal (es-tools), its SASL login in a 0600 file kcat reads, never on a command line.
 */
export function dumpKafkaTopics({
  topics: only,
}: { readonly topics?: readonly string[] } = {}): string {
  loadStackEnv();
  const kcat = ensureKcat();
  const config = kafkaConfig('dump');
  const dir = mkdtempSync(join(tmpdir(), 'es-kcat-'));
  const file = join(dir, 'kcat.conf');
  try {
    writeFileSync(
      file,
      [
        `bootstrap.servers=${config.brokers.join(',')}`,
        // An empty partition answers at once, not after the default half second a topic.
        'fetch.wait.max.ms=10',
        ...(config.sasl
          ? [
              'security.protocol=SASL_PLAINTEXT',
              `sasl.mechanisms=${config.sasl.mechanism.toUpperCase()}`,
              `sasl.username=${config.sasl.username}`,
              `sasl.password=${config.sasl.password}`,
            ]
          : []),
      ].join('\n'),
      { mode: 0o600 },
    );
    const kcatRun = (args: string[]) => {
      const run = spawnSync(kcat, ['-F', file, ...args], {
        encoding: 'utf8',
        maxBuffer: 1 << 30,
        timeout: 120_000,
      });
      if (run.status !== 0) throw new Error(`kcat ${args.join(' ')} failed: ${run.stderr}`);
      return run.stdout;
    };
    const metadata = JSON.parse(kcatRun(['-L', '-J'])) as { topics: { topic: string }[] };
    const topics = metadata.topics
      .map((t) => t.topic)
      .filter((t) => !t.startsWith('__') && (only === undefined || only.includes(t)));
    const lines: string[] = [];
    for (const topic of topics.sort()) {
      lines.push(`# ${topic}`);
      lines.push(
        kcatRun(['-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p@%o %k %s\\n']),
      );
    }
    return lines.join('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
