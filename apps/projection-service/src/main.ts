import './tracing';
import { main } from '@es/service-runtime';
import { AppModule } from './app.module';

main({
  name: 'projection-service',
  defaultPort: 3005,
  rootModule: AppModule,
  description: 'Builds the MongoDB read models; admin endpoints',
});
