// Shared Jest settings for the three test levels. Tests run against sources: every workspace
// package (@es/*) maps to its src/index.ts, so no build is needed before a test run.
const { readFileSync, readdirSync, existsSync } = require('node:fs');
const { join } = require('node:path');

function workspacePackages() {
  const dirs = [];
  for (const top of ['apps', 'libs']) {
    for (const a of readdirSync(join(__dirname, top), { withFileTypes: true })) {
      if (!a.isDirectory()) continue;
      const dir = join(top, a.name);
      if (existsSync(join(__dirname, dir, 'package.json'))) dirs.push(dir);
      // A package may also hold packages (libs/saga/contracts inside libs/saga).
      for (const b of readdirSync(join(__dirname, dir), { withFileTypes: true }))
        if (
          b.isDirectory() &&
          !['node_modules', 'dist', 'src'].includes(b.name) &&
          existsSync(join(__dirname, dir, b.name, 'package.json'))
        )
          dirs.push(join(dir, b.name));
    }
  }
  return dirs.map((dir) => ({
    dir,
    name: JSON.parse(readFileSync(join(__dirname, dir, 'package.json'), 'utf8')).name,
  }));
}

const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2023',
    },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  },
];

/** @param {'unit'|'int'|'e2e'} level */
module.exports = function preset(level) {
  return {
    rootDir: __dirname,
    displayName: level,
    testEnvironment: 'node',
    // Only the sources are scanned: .local holds the engines' data, where PostgreSQL's logical
    // decoding keeps files named *.snap that Jest would report as obsolete snapshots.
    roots: ['apps', 'libs', 'tools', 'infra'].map((dir) => `<rootDir>/${dir}`),
    testMatch: [`<rootDir>/{apps,libs,tools,infra}/**/*.${level}.spec.ts`],
    testPathIgnorePatterns: ['/node_modules/', '/dist/'],
    // .mts: the apps run from their TypeScript source by Node (the console, the CLI).
    transform: { '^.+\\.m?ts$': swc },
    moduleFileExtensions: ['ts', 'mts', 'js', 'mjs', 'cjs', 'json'],
    moduleNameMapper: Object.fromEntries(
      workspacePackages().map(({ dir, name }) => [`^${name}$`, `<rootDir>/${dir}/src/index.ts`]),
    ),
    workerIdleMemoryLimit: '1GB',
  };
};
module.exports.workspacePackages = workspacePackages;
