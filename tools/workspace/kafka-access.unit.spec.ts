// infra/kafka/access.json is the Kafka ACLs' one source (docs/security.md, Kafka): it must name
// every service that runs (libs/testing's SERVICES) and the tools' principal, the same users the
// local stack generates credentials for (infra/local/kafka.sh), and only topics that exist.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVICES } from '@es/testing';

const root = join(__dirname, '..', '..');
type Grant = Record<string, string[]>;
const access = JSON.parse(readFileSync(join(root, 'infra', 'kafka', 'access.json'), 'utf8')) as {
  principals: Record<string, Grant | 'all'>;
};

describe('infra/kafka/access.json', () => {
  it('has a principal for every service and the tools, and the stack makes exactly those users', () => {
    expect(Object.keys(access.principals).sort()).toEqual(
      [...SERVICES.map((s) => s.name), 'es-tools'].sort(),
    );
    const script = readFileSync(join(root, 'infra', 'local', 'kafka.sh'), 'utf8');
    const users = /^KAFKA_USERS=\(([^)]*)\)/m.exec(script)?.[1]?.split(' ');
    expect(users?.sort()).toEqual(Object.keys(access.principals).sort());
  });

  it('names only the system topics, and lets each topic be written by someone', () => {
    const topics = new Set<string>();
    const written = new Set<string>();
    for (const grant of Object.values(access.principals)) {
      if (grant === 'all') continue;
      for (const list of ['ensures', 'describes', 'produces', 'consumes'])
        for (const topic of grant[list] ?? []) topics.add(topic);
      for (const topic of grant['produces'] ?? []) written.add(topic);
    }
    for (const topic of topics)
      expect(topic).toMatch(
        /^((orders|inventory|payments|sagas)\.(events|commands)|sagas\.replies|republishes\.events)(\.dlq)?$/,
      );
    // A topic someone reads is a topic someone writes (a typo on either side shows here).
    for (const grant of Object.values(access.principals))
      if (grant !== 'all')
        for (const topic of grant['consumes'] ?? [])
          expect({ topic, written: written.has(topic) }).toEqual({ topic, written: true });
  });

  it('gives the read side no write but its dead letters', () => {
    const projection = access.principals['projection-service'] as Grant;
    for (const topic of projection['produces'] ?? []) expect(topic).toMatch(/\.dlq$/);
  });
});
