// NestJS's logger interface over the process's pino logger (libs/observability logging.ts):
// Nest's own messages, and every `new Logger(context)` in the services, become the same JSON
// lines, with the trace, span, correlation and causation ids of what is being handled.
import type { LoggerService, LogLevel } from '@nestjs/common';
import type { Logger } from 'pino';
import { createLogger, type LogLevelName } from '@es/observability';

const ORDER: readonly LogLevelName[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const NEST_TO_PINO: Record<LogLevel, LogLevelName> = {
  verbose: 'trace',
  debug: 'debug',
  log: 'info',
  warn: 'warn',
  error: 'error',
  fatal: 'fatal',
};

export class JsonLogger implements LoggerService {
  readonly pino: Logger;

  /** `levels`: Nest's list of levels to write (e.g. ['error', 'warn']); all from `info` by default. */
  constructor(service: string, levels?: readonly LogLevel[]) {
    const lowest = levels
      ? (ORDER.find((l) => levels.some((n) => NEST_TO_PINO[n] === l)) ?? 'fatal')
      : 'info';
    this.pino = createLogger(service, lowest);
  }

  log(message: unknown, ...rest: unknown[]): void {
    this.write('info', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.write('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('trace', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.write('fatal', message, rest);
  }

  /** Nest passes (message, context) and, for errors, (message, stack, context). */
  private write(level: LogLevelName, message: unknown, rest: unknown[]): void {
    const args = [...rest];
    const context = args.length > 0 && typeof args.at(-1) === 'string' ? args.pop() : undefined;
    const stack = level === 'error' && typeof args[0] === 'string' ? args[0] : undefined;
    const fields = {
      ...(context ? { context } : {}),
      ...(stack ? { stack } : {}),
      ...(message instanceof Error ? { stack: message.stack } : {}),
    };
    const text =
      typeof message === 'string'
        ? message
        : message instanceof Error
          ? message.message
          : JSON.stringify(message);
    this.pino[level](fields, text);
  }
}
