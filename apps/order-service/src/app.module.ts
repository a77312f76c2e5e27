import { Module } from '@nestjs/common';
import { PlatformModule } from '@es/service-runtime';

@Module({
  imports: [
    PlatformModule.forRoot({
      serviceName: 'order-service',
      postgres: { database: 'orders' },
      kafka: true,
    }),
  ],
})
export class AppModule {}
