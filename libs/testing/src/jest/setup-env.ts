// Each test file's environment: the stack's addresses and generated credentials.
import { loadStackEnv } from '../stack';

loadStackEnv();
