import './tracing';
import { projectionServiceApi } from '@es/projections';
import { main } from '@es/service-runtime';
import { AppModule } from './app.module';

main({ api: projectionServiceApi, rootModule: AppModule });
