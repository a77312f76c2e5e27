import { Module } from '@nestjs/common';
import { PlatformModule } from '@es/service-runtime';

@Module({
  imports: [
    PlatformModule.forRoot({
      serviceName: 'payment-service',
      postgres: { database: 'payments' },
      kafka: true,
    }),
  ],
})
export class AppModule {}
