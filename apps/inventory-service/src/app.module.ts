import { Module } from '@nestjs/common';
import { PlatformModule } from '@es/service-runtime';

@Module({
  imports: [
    PlatformModule.forRoot({
      serviceName: 'inventory-service',
      postgres: { database: 'inventory' },
      kafka: true,
    }),
  ],
})
export class AppModule {}
