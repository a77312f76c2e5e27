import { Module } from '@nestjs/common';
import { PlatformModule } from '@es/service-runtime';

@Module({
  imports: [
    PlatformModule.forRoot({ serviceName: 'projection-service', kafka: true, mongo: true }),
  ],
})
export class AppModule {}
