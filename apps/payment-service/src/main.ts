import './tracing';
import { paymentServiceApi } from '@es/payment-contracts';
import { main } from '@es/service-runtime';
import { AppModule } from './app.module';

main({ api: paymentServiceApi, rootModule: AppModule });
