import './tracing';
import { main } from '@es/service-runtime';
import { AppModule } from './app.module';

main({
  name: 'saga-orchestrator',
  defaultPort: 3004,
  rootModule: AppModule,
  description: 'The orchestrated order saga',
});
