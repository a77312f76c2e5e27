import './tracing';
import { inventoryServiceApi } from '@es/inventory-contracts';
import { main } from '@es/service-runtime';
import { AppModule } from './app.module';

main({ api: inventoryServiceApi, rootModule: AppModule });
