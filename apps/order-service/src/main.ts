import './tracing';
import { orderServiceApi } from '@es/order-contracts';
import { main } from '@es/service-runtime';
import { AppModule } from './app.module';

main({ api: orderServiceApi, rootModule: AppModule });
