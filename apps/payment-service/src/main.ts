import './tracing';
import { main } from '@es/service-runtime';
import { AppModule } from './app.module';

main({
  name: 'payment-service',
  defaultPort: 3003,
  rootModule: AppModule,
  description: 'Customer accounts and payments; saga participant',
});
