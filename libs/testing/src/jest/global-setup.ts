// Integration and e2e runs: the real engines must be up. Starts them when nothing runs, and
// leaves a note so global-teardown stops only what this run started.
import { ensureStack, loadStackEnv } from '../stack';

export default function globalSetup(): void {
  const { startedHere } = ensureStack();
  process.env['ES_STACK_STARTED_BY_JEST'] = startedHere ? '1' : '0';
  loadStackEnv();
}
