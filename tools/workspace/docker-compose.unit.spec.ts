// docker-compose.yml cannot run on machines without a Docker engine, so it is checked
// statically: it parses, and its images, ports and environment agree with docs/architecture.md,
// the native stack (infra/local) and the services' own defaults.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { LOCAL_DEFAULTS } from '@es/runtime-config';
import { CONSOLE, SERVICES } from '@es/testing';

const root = join(__dirname, '..', '..');

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string; args?: Record<string, string> };
  environment?: Record<string, string | number>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  command?: string[];
  volumes?: string[];
}

const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
};
const services = compose.services;

const PROMQL = new Set(['sum', 'max', 'min', 'avg', 'rate', 'histogram_quantile', 'by']);

/** The metric names a PromQL expression reads (histogram series suffixes dropped). */
function metricsIn(expr: string): string[] {
  const bare = expr
    .replace(/\bby \([^)]*\)/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ');
  return [...bare.matchAll(/\b[a-z][a-z_]*\b/g)]
    .map((m) => m[0])
    .filter((name) => !PROMQL.has(name))
    .map((name) => name.replace(/_(bucket|count|sum)$/, ''));
}

/** The TypeScript sources of apps/ and libs/, concatenated: where metrics are created. */
function sourceTexts(): string {
  const texts: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (['node_modules', 'dist'].includes(entry.name)) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts'))
        texts.push(readFileSync(path, 'utf8'));
    }
  };
  walk(join(root, 'apps'));
  walk(join(root, 'libs'));
  return texts.join('\n');
}

function published(service: string): { host: string; hostPort: number; containerPort: number }[] {
  return (services[service]?.ports ?? []).map((spec) => {
    const match = /^(\d+\.\d+\.\d+\.\d+):(\d+):(\d+)$/.exec(spec);
    if (!match) throw new Error(`${service}: port '${spec}' does not name a host address`);
    return { host: match[1]!, hostPort: Number(match[2]), containerPort: Number(match[3]) };
  });
}

/** The three KRaft nodes, each a broker and a controller. */
const KAFKA_NODES = ['kafka', 'kafka-2', 'kafka-3'];

describe('docker-compose.yml', () => {
  const observability = ['otel-collector', 'jaeger', 'prometheus', 'grafana'];

  it("has the engines, the identity provider, the five services, the operator's console and what observes them, nothing else", () => {
    expect(Object.keys(services).sort()).toEqual(
      [
        'postgres',
        ...KAFKA_NODES,
        'kafka-users',
        'kafka-acls',
        'mongo',
        'keycloak',
        ...SERVICES.map((s) => s.name),
        CONSOLE.name,
        ...observability,
      ].sort(),
    );
    for (const name of observability)
      expect({ name, image: services[name]?.image }).toEqual({
        name,
        image: expect.stringMatching(/^[a-z/-]+:v?\d+\.\d+\.\d+$/) as string,
      });
  });

  it("has every service take Keycloak's tokens: the issuer the host sees, its keys in the network", () => {
    expect(services['keycloak']?.environment?.['KC_HOSTNAME']).toBe('http://127.0.0.1:4400');
    expect(published('keycloak')).toEqual([
      { host: '127.0.0.1', hostPort: 4400, containerPort: 8080 },
    ]);
    for (const s of SERVICES) {
      expect(services[s.name]?.environment?.['AUTH_ISSUER']).toBe(
        'http://127.0.0.1:4400/realms/es-cqrs',
      );
      expect(services[s.name]?.environment?.['AUTH_JWKS_URL']).toBe(
        'http://keycloak:8080/realms/es-cqrs/protocol/openid-connect/certs',
      );
    }
  });

  it("sends every service's traces to the collector, and the collector's to Jaeger", () => {
    for (const s of SERVICES)
      expect(services[s.name]?.environment?.['OTEL_EXPORTER_OTLP_ENDPOINT']).toBe(
        'http://otel-collector:4318',
      );
    const collector = parse(
      readFileSync(join(root, 'infra', 'observability', 'otel-collector.yaml'), 'utf8'),
    ) as {
      exporters: Record<string, { endpoint: string }>;
      service: { pipelines: { traces: { exporters: string[] } } };
    };
    const [exporter] = collector.service.pipelines.traces.exporters;
    expect(collector.exporters[exporter!]?.endpoint).toBe('jaeger:4317');
  });

  it('has Prometheus scrape each service on its port', () => {
    const prometheus = parse(
      readFileSync(join(root, 'infra', 'observability', 'prometheus.yml'), 'utf8'),
    ) as { scrape_configs: { metrics_path: string; static_configs: { targets: string[] }[] }[] };
    const targets = prometheus.scrape_configs.flatMap((c) =>
      c.static_configs.flatMap((t) => t.targets),
    );
    expect(targets.sort()).toEqual(SERVICES.map((s) => `${s.name}:${s.port}`).sort());
  });

  it('loads alerting rules whose every expression names metrics the code exports', () => {
    const prometheus = parse(
      readFileSync(join(root, 'infra', 'observability', 'prometheus.yml'), 'utf8'),
    ) as { rule_files: string[] };
    expect(prometheus.rule_files).toEqual(['/etc/prometheus/alerts.yml']);
    expect(services['prometheus']?.volumes).toContain(
      './infra/observability/alerts.yml:/etc/prometheus/alerts.yml:ro',
    );
    const alerts = parse(
      readFileSync(join(root, 'infra', 'observability', 'alerts.yml'), 'utf8'),
    ) as { groups: { rules: { alert: string; expr: string; for: string }[] }[] };
    const rules = alerts.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert)).toEqual(['OutboxSlotWalRunningOut', 'OutboxRelayBehind']);
    const sources = sourceTexts();
    for (const rule of rules) {
      const metrics = metricsIn(rule.expr);
      expect({ alert: rule.alert, metrics }).toEqual({
        alert: rule.alert,
        metrics: expect.arrayContaining([expect.stringMatching(/^outbox_slot_/)]) as string[],
      });
      for (const metric of metrics)
        expect({ alert: rule.alert, metric, exported: sources.includes(`'${metric}'`) }).toEqual({
          alert: rule.alert,
          metric,
          exported: true,
        });
    }
  });

  it('provisions a dashboard whose every query names metrics the code exports', () => {
    const dashboard = JSON.parse(
      readFileSync(
        join(root, 'infra', 'observability', 'grafana', 'dashboards', 'es-cqrs.json'),
        'utf8',
      ),
    ) as { panels: { title: string; targets: { expr: string }[] }[] };
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(10);
    const sources = sourceTexts();
    for (const panel of dashboard.panels)
      for (const { expr } of panel.targets) {
        const metrics = metricsIn(expr);
        expect({ panel: panel.title, metrics: metrics.length > 0 }).toEqual({
          panel: panel.title,
          metrics: true,
        });
        for (const metric of metrics)
          expect({ panel: panel.title, metric, exported: sources.includes(`'${metric}'`) }).toEqual(
            {
              panel: panel.title,
              metric,
              exported: true,
            },
          );
      }
  });

  it('uses the engines and versions of docs/architecture.md', () => {
    expect(services['postgres']?.image).toMatch(/^postgres:(1[5-9])\b/);
    for (const node of KAFKA_NODES)
      expect({ node, image: services[node]?.image }).toEqual({
        node,
        image: expect.stringMatching(/^apache\/kafka:3\.9\.\d+$/) as string,
      });
    expect(services['mongo']?.image).toMatch(/^mongo:7\b/);
    expect(services['mongo']?.healthcheck?.test.join(' ')).toContain('rs.initiate');
  });

  it('publishes every port on 127.0.0.1 only', () => {
    for (const name of Object.keys(services)) {
      for (const p of published(name))
        expect({ name, host: p.host }).toEqual({ name, host: '127.0.0.1' });
    }
  });

  it('publishes the engines on the local addresses the native stack uses', () => {
    expect(published('postgres')).toEqual([
      { host: '127.0.0.1', hostPort: LOCAL_DEFAULTS.postgresPort, containerPort: 5432 },
    ]);
    // Node n on 9092 + 2(n-1), as the native stack's three-node option (ES_KAFKA_NODES=3).
    KAFKA_NODES.forEach((node, i) => {
      expect({ node, ports: published(node) }).toEqual({
        node,
        ports: [{ host: '127.0.0.1', hostPort: 9092 + 2 * i, containerPort: 9092 + 2 * i }],
      });
    });
    expect(published('mongo')).toEqual([
      { host: '127.0.0.1', hostPort: 27017, containerPort: 27017 },
    ]);
    expect(LOCAL_DEFAULTS.kafkaBrokers).toEqual(['127.0.0.1:9092']);
  });

  it('runs Kafka as three nodes: one quorum, three copies with two in sync, each advertised to the host and to the services', () => {
    const env = (node: string) => services[node]?.environment ?? {};
    const voters = KAFKA_NODES.map((node, i) => `${i + 1}@${node}:9093`).join(',');
    KAFKA_NODES.forEach((node, i) => {
      const e = env(node);
      expect({ node, id: e['KAFKA_NODE_ID'], voters: e['KAFKA_CONTROLLER_QUORUM_VOTERS'] }).toEqual(
        {
          node,
          id: i + 1,
          voters,
        },
      );
      expect(String(e['KAFKA_ADVERTISED_LISTENERS'])).toBe(
        `INTERNAL://${node}:19092,EXTERNAL://127.0.0.1:${9092 + 2 * i}`,
      );
      expect(e['KAFKA_PROCESS_ROLES']).toBe('broker,controller');
      expect(e['KAFKA_NUM_PARTITIONS']).toBe(6);
      expect(e['KAFKA_DEFAULT_REPLICATION_FACTOR']).toBe(3);
      expect(e['KAFKA_MIN_INSYNC_REPLICAS']).toBe(2);
      expect(e['KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR']).toBe(3);
      expect(e['KAFKA_AUTO_CREATE_TOPICS_ENABLE']).toBe('false');
      expect(e['CLUSTER_ID']).toBe(env('kafka')['CLUSTER_ID']);
    });
    expect(Buffer.from(String(env('kafka')['CLUSTER_ID']), 'base64url')).toHaveLength(16);
    for (const s of SERVICES)
      expect(String(services[s.name]?.environment?.['KAFKA_BROKERS'])).toBe(
        KAFKA_NODES.map((node) => `${node}:19092`).join(','),
      );
  });

  it.each(SERVICES.map((s) => [s.name, s.port] as const))(
    'builds and wires %s on port %i',
    (name, port) => {
      const service = services[name]!;
      expect(service.build).toEqual({
        context: '.',
        dockerfile: 'Dockerfile',
        args: { APP: name },
      });
      expect(existsSync(join(root, 'apps', name, 'package.json'))).toBe(true);
      expect(published(name)).toEqual([{ host: '127.0.0.1', hostPort: port, containerPort: port }]);
      const env = service.environment!;
      expect(env['PORT']).toBe(String(port));
      expect(env['HOST']).toBe('0.0.0.0'); // inside the container; the host side is 127.0.0.1 above
      expect(env['PGHOST']).toBe('postgres');
      expect(env['MONGO_URL']).toMatch(/^mongodb:\/\/mongo:27017\//);
      // Never a literal secret; each service its own role, the owner only to migrate.
      if (name === 'projection-service') expect(env['PGUSER']).toBeUndefined();
      else {
        const db = {
          'order-service': 'orders',
          'inventory-service': 'inventory',
          'payment-service': 'payments',
          'saga-orchestrator': 'sagas',
        }[name];
        expect(env['PGUSER']).toBe(`es_${db}`);
        expect(String(env['PGPASSWORD'])).toMatch(
          new RegExp(`^\\$\\{ES_${db.toUpperCase()}_DB_PASSWORD:\\?`),
        );
        expect(env['PG_MIGRATION_USER']).toBe('es');
        expect(String(env['PG_MIGRATION_PASSWORD'])).toMatch(/^\$\{POSTGRES_PASSWORD:\?/);
      }
      // Kafka's nodes, users and ACLs are ready once the kafka-acls job has run.
      expect(service.depends_on?.['kafka-acls']).toEqual({
        condition: 'service_completed_successfully',
      });
      expect(service.depends_on?.['keycloak']).toEqual({ condition: 'service_healthy' });
      expect(service.healthcheck?.test.join(' ')).toContain('/health/ready');
    },
  );

  it("builds and wires the operator's console: Keycloak as browsers see it, reached in the network, each service by its name", () => {
    const console = services[CONSOLE.name]!;
    expect(console.build).toEqual({
      context: '.',
      dockerfile: 'Dockerfile',
      args: { APP: CONSOLE.name },
    });
    expect(console.command).toEqual(['node', 'dist/main.mts']);
    expect(published(CONSOLE.name)).toEqual([
      { host: '127.0.0.1', hostPort: CONSOLE.port, containerPort: CONSOLE.port },
    ]);
    const env = console.environment!;
    expect(env['PORT']).toBe(String(CONSOLE.port));
    // Its login callback: the address the realm registers for it.
    expect(env['CONSOLE_URL']).toBe(`http://127.0.0.1:${CONSOLE.port}`);
    const realm = readFileSync(join(root, 'infra', 'keycloak', 'es-cqrs-realm.json'), 'utf8');
    expect(realm).toContain(`"http://127.0.0.1:${CONSOLE.port}/auth/callback"`);
    expect(String(env['CONSOLE_CLIENT_SECRET'])).toMatch(/^\$\{ES_CLIENT_SECRET_ES_CONSOLE:\?/);
    expect(env['AUTH_ISSUER']).toBe('http://127.0.0.1:4400/realms/es-cqrs');
    expect(env['CONSOLE_AUTH_INTERNAL_URL']).toBe('http://keycloak:8080');
    for (const s of SERVICES)
      expect(env[`ES_${s.name.toUpperCase().replace(/-/g, '_')}_URL`]).toBe(
        `http://${s.name}:${s.port}`,
      );
    expect(console.healthcheck?.test.join(' ')).toContain(`127.0.0.1:${CONSOLE.port}/health`);
  });

  it('waits for MongoDB before every service that reads the read models', () => {
    for (const name of [
      'order-service',
      'inventory-service',
      'payment-service',
      'projection-service',
    ])
      expect({ name, mongo: services[name]?.depends_on?.['mongo'] }).toEqual({
        name,
        mongo: { condition: 'service_healthy' },
      });
  });

  it('creates the per-service databases of docs/architecture.md, and their roles', () => {
    const init = readFileSync(join(root, 'infra', 'postgres', 'init-databases.sh'), 'utf8');
    const databases = /for db in ([a-z ]+); do/.exec(init)?.[1]?.split(' ');
    expect(databases?.sort()).toEqual(['inventory', 'orders', 'payments', 'sagas']);
    expect(init).toContain('CREATE DATABASE $db OWNER $POSTGRES_USER');
    expect(init).toContain('CREATE ROLE es_$db LOGIN REPLICATION NOSUPERUSER');
    expect(init).toContain('REVOKE CONNECT, TEMPORARY ON DATABASE $db FROM PUBLIC');
    const env = services['postgres']?.environment ?? {};
    for (const db of databases ?? [])
      expect(String(env[`ES_${db.toUpperCase()}_DB_PASSWORD`])).toMatch(
        /^\$\{ES_\w+_DB_PASSWORD:\?/,
      );
  });

  it('agrees with the runtime table of docs/architecture.md', () => {
    const text = readFileSync(join(root, 'docs', 'architecture.md'), 'utf8');
    for (const s of SERVICES)
      expect(text).toMatch(new RegExp(`\\| ${s.name} +\\|[^\\n]*\\| :${s.port} +\\|`));
    expect(text).toContain(`127.0.0.1:${LOCAL_DEFAULTS.postgresPort}`);
    expect(text).toContain('127.0.0.1:9092');
    expect(text).toContain('127.0.0.1:27017');
  });
});
