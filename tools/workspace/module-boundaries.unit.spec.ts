// The layering rules of docs/architecture.md are lint errors, not review comments: this lints code
// placed (virtually) inside the projects and expects @nx/enforce-module-boundaries to refuse it.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createProjectGraphAsync } from 'nx/src/devkit-exports';

const infrastructure = ['pg', 'kafkajs', 'mongodb', '@nestjs/common', '@nestjs/core'];

const cases = {
  ...Object.fromEntries(
    infrastructure.map((pkg) => [
      `domain imports ${pkg}`,
      { file: 'libs/order/domain/src/probe.ts', code: `import '${pkg}';\n` },
    ]),
  ),
  'domain imports another context domain': {
    file: 'libs/order/domain/src/probe.ts',
    code: `import '@es/inventory-domain';\n`,
  },
  'domain imports another context contracts': {
    file: 'libs/order/domain/src/probe.ts',
    code: `import '@es/inventory-contracts';\n`,
  },
  'contracts import a domain': {
    file: 'libs/payment/contracts/src/probe.ts',
    code: `import '@es/order-domain';\n`,
  },
  'contracts import their own domain': {
    file: 'libs/order/contracts/src/probe.ts',
    code: `import '@es/order-domain';\n`,
  },
  'infra int spec imports testing': {
    file: 'libs/event-store/src/probe.int.spec.ts',
    code: `import '@es/testing';\n`,
  },
  'infra unit spec imports testing': {
    file: 'libs/event-store/src/probe.unit.spec.ts',
    code: `import '@es/testing';\n`,
  },
  'infra source imports testing': {
    file: 'libs/event-store/src/probe.ts',
    code: `import '@es/testing';\n`,
  },
  'app imports infrastructure': {
    file: 'apps/order-service/src/probe.ts',
    code: `import 'pg';\nimport '@es/service-runtime';\n`,
  },
};

let errors: Record<string, string[]>;

beforeAll(async () => {
  process.env['NX_DAEMON'] = 'false';
  await createProjectGraphAsync({ exitOnError: false });
  const probe = promisify(execFile)(process.execPath, [join(__dirname, 'lint-probe.mjs')]);
  probe.child.stdin?.end(JSON.stringify(Object.values(cases)));
  const results = JSON.parse((await probe).stdout) as string[][];
  errors = Object.fromEntries(Object.keys(cases).map((name, i) => [name, results[i] ?? []]));
}, 120_000);

describe('module boundaries', () => {
  it.each(infrastructure)('a domain lib may not import %s', (pkg) => {
    expect(errors[`domain imports ${pkg}`]).toEqual([
      `A project tagged with "type:domain" is not allowed to import "${pkg}"`,
    ]);
  });

  it("a context may not import another context's domain", () => {
    const found = errors['domain imports another context domain'];
    expect(found).toHaveLength(1);
    expect(found?.[0]).toContain(
      'A project tagged with "scope:order" can only depend on libs tagged with',
    );
  });

  it("a context may import another context's contracts", () => {
    expect(errors['domain imports another context contracts']).toEqual([]);
  });

  it('contracts may not import a domain', () => {
    const found = errors['contracts import a domain'];
    expect(found).toHaveLength(1);
    expect(found?.[0]).toContain('"type:contracts" can only depend on libs tagged with');
  });

  it('contracts may not import their own domain (which depends on them: a cycle)', () => {
    const found = errors['contracts import their own domain'];
    expect(found).toHaveLength(1);
    expect(found?.[0]).toContain(
      'Circular dependency between "@es/order-contracts" and "@es/order-domain"',
    );
  });

  it('integration specs may use the testing lib; unit specs and sources may not', () => {
    expect(errors['infra int spec imports testing']).toEqual([]);
    expect(errors['infra unit spec imports testing']).toHaveLength(1);
    expect(errors['infra source imports testing']).toHaveLength(1);
  });

  it('an app may import infrastructure', () => {
    expect(errors['app imports infrastructure']).toEqual([]);
  });
});
