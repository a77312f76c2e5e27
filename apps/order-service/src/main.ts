import './tracing';
import { main } from '@es/service-runtime';
import { AppModule } from './app.module';

main({
  name: 'order-service',
  defaultPort: 3001,
  rootModule: AppModule,
  description: 'Orders: commands and queries',
});
