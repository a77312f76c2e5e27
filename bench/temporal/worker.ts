// The Temporal peer's worker: runs the order workflows (bundled from workflows.ts by the SDK's
// webpack) and their activities, polling one task queue of the development server. Started and
// stopped by bench/temporal/peer.mts; prints `ready` once polling.
//   TEMPORAL_ADDRESS=127.0.0.1:7233 TEMPORAL_TASK_QUEUE=bench-orders node bench/temporal/worker.ts
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import * as activities from './activities.ts';

Runtime.install({ logger: new DefaultLogger('WARN') });
const connection = await NativeConnection.connect({
  address: process.env['TEMPORAL_ADDRESS'] ?? '127.0.0.1:7233',
});
const worker = await Worker.create({
  connection,
  namespace: 'default',
  taskQueue: process.env['TEMPORAL_TASK_QUEUE'] ?? 'bench-orders',
  workflowsPath: new URL('./workflows.ts', import.meta.url).pathname,
  activities,
});
const stop = () => {
  worker.shutdown();
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
const running = worker.run();
console.log('ready');
await running;
await activities.closePools();
await connection.close();
