import { Module } from '@nestjs/common';
import { PlatformModule } from '@es/service-runtime';
import { ProjectionHostService } from './projection-host';
import { ProjectionsController } from './projections.controller';

@Module({
  imports: [
    PlatformModule.forRoot({ serviceName: 'projection-service', kafka: true, mongo: true }),
  ],
  controllers: [ProjectionsController],
  providers: [ProjectionHostService],
})
export class AppModule {}
