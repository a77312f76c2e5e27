import { Module } from '@nestjs/common';
import { PlatformModule } from '@es/service-runtime';

@Module({
  imports: [
    PlatformModule.forRoot({
      serviceName: 'saga-orchestrator',
      postgres: { database: 'sagas' },
      kafka: true,
    }),
  ],
})
export class AppModule {}
