// Reads [{ file, code }] as JSON on stdin, lints each code as if it were that file, and prints
// the module-boundary messages of each, as JSON. Run as a child process by module-boundaries.unit.spec.ts (ESLint loads its
// flat config with import(), which Jest's module sandbox does not support).
import { ESLint } from 'eslint';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import tseslint from 'typescript-eslint';

const root = join(import.meta.dirname, '..', '..');
const eslint = new ESLint({
  cwd: root,
  // The probed file does not exist, so type-aware rules cannot run; the boundary rule needs no types.
  overrideConfig: [tseslint.configs.disableTypeChecked],
});
const cases = JSON.parse(readFileSync(0, 'utf8'));
const results = [];
for (const { file, code } of cases) {
  const [result] = await eslint.lintText(code, { filePath: join(root, file) });
  results.push(
    (result?.messages ?? [])
      .filter((m) => m.ruleId === '@nx/enforce-module-boundaries' || m.fatal)
      .map((m) => m.message),
  );
}
process.stdout.write(JSON.stringify(results));
