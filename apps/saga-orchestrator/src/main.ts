import './tracing';
import { sagaOrchestratorApi } from '@es/saga-contracts';
import { main } from '@es/service-runtime';
import { AppModule } from './app.module';

main({ api: sagaOrchestratorApi, rootModule: AppModule });
