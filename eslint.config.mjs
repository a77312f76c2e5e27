// Lint for the whole workspace: type-checked TypeScript rules, plus Nx module boundaries that
// turn docs/architecture.md's layering rules into lint errors (a domain lib importing pg, kafkajs,
// mongodb or NestJS; a context importing another context's internals).
import js from '@eslint/js';
import globals from 'globals';
import nx from '@nx/eslint-plugin';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

const infrastructurePackages = [
  'pg',
  'pg-*',
  'kafkajs',
  'mongodb',
  '@nestjs/*',
  'express',
  '@opentelemetry/*',
];

/** Layers and bounded contexts; integration and e2e specs may also use the testing lib. */
function boundaries({ testingAllowed }) {
  const allow = (tags) => (testingAllowed ? [...tags, 'type:testing'] : tags);
  return {
    enforceBuildableLibDependency: false,
    banTransitiveDependencies: false,
    depConstraints: [
      // Layers
      {
        sourceTag: 'type:domain',
        onlyDependOnLibsWithTags: allow(['type:domain', 'type:contracts', 'type:util']),
        bannedExternalImports: infrastructurePackages,
      },
      {
        sourceTag: 'type:contracts',
        onlyDependOnLibsWithTags: allow(['type:contracts', 'type:util']),
        bannedExternalImports: infrastructurePackages,
      },
      {
        sourceTag: 'type:util',
        onlyDependOnLibsWithTags: allow(['type:util']),
        bannedExternalImports: infrastructurePackages,
      },
      {
        sourceTag: 'type:infra',
        onlyDependOnLibsWithTags: allow(['type:infra', 'type:util', 'type:contracts']),
      },
      {
        sourceTag: 'type:testing',
        onlyDependOnLibsWithTags: [
          'type:infra',
          'type:util',
          'type:contracts',
          'type:domain',
          'type:testing',
        ],
      },
      { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['*'] },
      // Bounded contexts: another context is reachable only through its contracts, and the
      // saga's participant side (the protocol every participant answers with) is the saga's
      // published helper, open to every context that takes part.
      ...['order', 'inventory', 'payment', 'saga', 'projection'].map((context) => ({
        sourceTag: `scope:${context}`,
        onlyDependOnLibsWithTags: [
          `scope:${context}`,
          'scope:shared',
          'type:contracts',
          'role:saga-participant',
        ],
      })),
      { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
    ],
  };
}

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      '**/coverage/**',
      '.nx/**',
      '.local/**',
      '**/third_party/**',
      // Generated from docs/openapi/system.json by tools/openapi (checked by npm test).
      'libs/api-client/src/schema.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', '*.mjs', 'tools/*/*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // Nest's DI needs classes with only static members and empty constructors with parameter properties.
      '@typescript-eslint/no-extraneous-class': ['error', { allowWithDecorator: true }],
      // NestJS declares its option bags (NestApplicationOptions, ...) as classes but documents
      // and types them to be passed as object literals.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
      '@nx/enforce-module-boundaries': ['error', boundaries({ testingAllowed: false })],
    },
  },
  {
    files: ['**/*.int.spec.ts', '**/*.e2e.spec.ts'],
    rules: { '@nx/enforce-module-boundaries': ['error', boundaries({ testingAllowed: true })] },
  },
  {
    files: ['**/*.spec.ts', 'libs/testing/**/*.ts', 'bench/**/*.mts'],
    rules: {
      // Tests assert on shapes they build; non-null assertions there read better than guards.
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  prettier,
);
