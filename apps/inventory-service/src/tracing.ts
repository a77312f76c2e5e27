// Loaded first by main.ts, before NestJS, pg or mongodb: tracing must patch them as they load.
import { startTracing } from '@es/observability';

startTracing('inventory-service');
