import './tracing';
import { main } from '@es/service-runtime';
import { AppModule } from './app.module';

main({
  name: 'inventory-service',
  defaultPort: 3002,
  rootModule: AppModule,
  description: 'Stock per SKU: commands and queries; saga participant',
});
