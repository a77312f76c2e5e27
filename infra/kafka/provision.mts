// Kafka's ACLs from infra/kafka/access.json, applied by `stack.sh up kafka` (Node 24 runs this
// TypeScript as it is): every ACL the file implies is created, every other one deleted, so the
// broker holds exactly what the file says. It connects as the brokers' super user (SASL/PLAIN,
// its password read from the credentials file, never given as an argument).
//   node infra/kafka/provision.mts <brokers> <credentials file>
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// Its types, from where libs/messaging has it (this file is in no package of its own).
import type * as KafkaJs from '../../libs/messaging/node_modules/kafkajs/types/index.d.ts';
import { kafkaPasswordFromFile } from '../../libs/runtime-config/src/passfile.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// kafkajs is a dependency of libs/messaging, resolved from there.
const kafkajs = createRequire(join(root, 'libs', 'messaging', 'package.json'))(
  'kafkajs',
) as typeof KafkaJs;
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

type Grant = {
  ensures?: string[];
  describes?: string[];
  produces?: string[];
  consumes?: string[];
  groups?: string[];
  groupPrefixes?: string[];
  cluster?: (keyof typeof AclOperationTypes)[];
};
type Access = { principals: Record<string, Grant | 'all'> };

const [brokerList, credentialsFile] = process.argv.slice(2);
if (!brokerList || !credentialsFile) {
  process.stderr.write('usage: provision.mts <brokers> <credentials file>\n');
  process.exit(2);
}
const brokers = brokerList.split(',');
/** A principal's password, as the services read theirs (libs/runtime-config's passfile.ts). */
const passwordOf = (user: string) => kafkaPasswordFromFile(credentialsFile, user) ?? '';
const access = JSON.parse(
  readFileSync(join(root, 'infra', 'kafka', 'access.json'), 'utf8'),
) as Access;

type Acl = KafkaJs.AclEntry;
const allow = (
  principal: string,
  resourceType: KafkaJs.AclResourceTypes,
  resourceName: string,
  operation: KafkaJs.AclOperationTypes,
  pattern: KafkaJs.ResourcePatternTypes = ResourcePatternTypes.LITERAL,
): Acl => ({
  principal: `User:${principal}`,
  host: '*',
  resourceType,
  resourceName,
  resourcePatternType: pattern,
  operation,
  permissionType: AclPermissionTypes.ALLOW,
});

function wanted(): Acl[] {
  const acls: Acl[] = [];
  const { TOPIC, GROUP, CLUSTER, TRANSACTIONAL_ID } = AclResourceTypes;
  const op = AclOperationTypes;
  for (const [principal, grant] of Object.entries(access.principals)) {
    if (grant === 'all') {
      for (const type of [TOPIC, GROUP, TRANSACTIONAL_ID])
        acls.push(allow(principal, type, '*', op.ALL));
      acls.push(allow(principal, CLUSTER, 'kafka-cluster', op.ALL));
      continue;
    }
    const topics = (names: string[] | undefined, ops: KafkaJs.AclOperationTypes[]) => {
      for (const name of names ?? [])
        for (const o of ops) acls.push(allow(principal, TOPIC, name, o));
    };
    topics(grant.ensures, [op.CREATE, op.DESCRIBE, op.DESCRIBE_CONFIGS]);
    topics(grant.describes, [op.DESCRIBE]);
    topics(grant.produces, [op.WRITE, op.DESCRIBE]);
    topics(grant.consumes, [op.READ, op.DESCRIBE]);
    for (const group of grant.groups ?? [])
      for (const o of [op.READ, op.DESCRIBE]) acls.push(allow(principal, GROUP, group, o));
    for (const prefix of grant.groupPrefixes ?? [])
      for (const o of [op.READ, op.DESCRIBE, op.DELETE])
        acls.push(allow(principal, GROUP, prefix, o, ResourcePatternTypes.PREFIXED));
    for (const o of grant.cluster ?? [])
      acls.push(allow(principal, CLUSTER, 'kafka-cluster', op[o]));
  }
  return acls;
}

const key = (a: Acl) =>
  [
    a.principal,
    a.host,
    a.resourceType,
    a.resourceName,
    a.resourcePatternType,
    a.operation,
    a.permissionType,
  ].join('|');

/**
 * Until every node applied the change: each takes ACLs from the cluster's metadata in its own
 * time, and a client right after `stack.sh up` may ask any node. Probed as the tools'
 * principal, whose cluster ACL came in the same batch: each node answers for its own config.
 */
async function propagated(): Promise<void> {
  const tools = new kafkajs.Kafka({
    clientId: 'es-provision-probe',
    brokers,
    sasl: {
      mechanism: 'scram-sha-256',
      username: 'es-tools',
      password: passwordOf('es-tools'),
    },
    logLevel: kafkajs.logLevel.NOTHING,
  }).admin();
  await tools.connect();
  try {
    const { brokers: nodes } = await tools.describeCluster();
    for (let attempt = 1; ; attempt++) {
      try {
        await tools.describeConfigs({
          includeSynonyms: false,
          resources: nodes.map((n) => ({
            type: kafkajs.ConfigResourceTypes.BROKER,
            name: String(n.nodeId),
          })),
        });
        return;
      } catch (error) {
        if (attempt >= 100) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } finally {
    await tools.disconnect();
  }
}

const kafka = new kafkajs.Kafka({
  clientId: 'es-provision',
  brokers,
  sasl: { mechanism: 'plain', username: 'admin', password: passwordOf('admin') },
  logLevel: kafkajs.logLevel.ERROR,
  retry: { retries: 10 },
});
const admin = kafka.admin();
await admin.connect();
try {
  const { resources } = await admin.describeAcls({
    resourceType: AclResourceTypes.ANY,
    resourcePatternType: ResourcePatternTypes.ANY,
    operation: AclOperationTypes.ANY,
    permissionType: AclPermissionTypes.ANY,
  });
  const existing: Acl[] = resources.flatMap((r) =>
    r.acls.map((a) => ({
      principal: a.principal,
      host: a.host,
      resourceType: r.resourceType,
      resourceName: r.resourceName,
      resourcePatternType: r.resourcePatternType,
      operation: a.operation,
      permissionType: a.permissionType,
    })),
  );
  const want = wanted();
  const have = new Set(existing.map(key));
  const keep = new Set(want.map(key));
  const missing = want.filter((a) => !have.has(key(a)));
  const extra = existing.filter((a) => !keep.has(key(a)));
  if (missing.length > 0) await admin.createAcls({ acl: missing });
  if (extra.length > 0) await admin.deleteAcls({ filters: extra });
  if (missing.length > 0 || extra.length > 0) await propagated();
  process.stdout.write(
    `kafka ACLs: ${want.length} for ${Object.keys(access.principals).length} principals (${missing.length} created, ${extra.length} deleted)\n`,
  );
} finally {
  await admin.disconnect();
}
