export * from './infrastructure';
export * from './platform.module';
export * from './readiness';
export * from './run-service';
export * from './event-sourcing.module';
export * from './http';
export * from './consumers';
export * from './logging';
