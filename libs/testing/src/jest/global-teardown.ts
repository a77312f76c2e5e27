import { stopStack } from '../stack';

export default function globalTeardown(): void {
  if (process.env['ES_STACK_STARTED_BY_JEST'] === '1') stopStack();
}
