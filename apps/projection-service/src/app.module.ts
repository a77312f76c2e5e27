import { Module } from '@nestjs/common';
import { ORDER_SUMMARY_READ_MODEL, type OrderSummaryDocument } from '@es/projections';
import type { ReadModels } from '@es/read-models';
import {
  consistencyTokenOf,
  OWNER_RESOLVERS,
  PlatformModule,
  READ_MODELS,
  type OwnerResolvers,
} from '@es/service-runtime';
import { ProjectionHostService } from './projection-host';
import { ProjectionsController } from './projections.controller';

@Module({
  imports: [
    PlatformModule.forRoot({ serviceName: 'projection-service', kafka: true, mongo: true }),
  ],
  controllers: [ProjectionsController],
  providers: [
    ProjectionHostService,
    // A customer's order summary is theirs, once the summary knows whose the order is (read as
    // the request's consistency token asks, so a customer's read of their own write waits).
    {
      provide: OWNER_RESOLVERS,
      inject: [READ_MODELS],
      useFactory: (readModels: ReadModels): OwnerResolvers => ({
        order: async (orderId, request) => {
          const token = consistencyTokenOf(request);
          const summary = await readModels.get<OrderSummaryDocument>(
            ORDER_SUMMARY_READ_MODEL,
            orderId,
            token ? { consistentWith: token } : {},
          );
          return summary?.order?.customerId;
        },
      }),
    },
  ],
})
export class AppModule {}
