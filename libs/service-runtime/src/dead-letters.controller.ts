// The dead-letter operations (@es/http-api's deadLetterOperations) of a service with consumers:
// its parked letters, in its own database, redriven through its consumers' handlers.
import { Controller, Inject } from '@nestjs/common';
import type { BodyOf, ParamsOf, QueryOf } from '@es/http-api';
import {
  discardDeadLetter,
  getDeadLetter,
  listDeadLetters,
  redriveDeadLetter,
  redriveDeadLetters,
} from '@es/http-api';
import {
  NotParkedError,
  NotSequenceHeadError,
  SequenceBusyError,
  UnknownConsumerError,
  type DeadLetterRecord,
  type RedriveReport,
} from '@es/messaging';
import { MessageConsumers } from './consumers';
import { CommandContext, type CommandRequest } from './http/request-context';
import { NotFound, ProblemError } from './http/problem.filter';
import { Input, Route } from './http/operation';

const summary = (l: DeadLetterRecord) => ({
  id: l.id,
  consumer: l.consumer,
  topic: l.topic,
  key: l.key,
  messageId: l.messageId,
  cause: l.cause,
  error: l.error,
  attempts: l.attempts,
  status: l.status,
  parkedAt: l.parkedAt.toISOString(),
  resolvedAt: l.resolvedAt?.toISOString() ?? null,
  resolution: l.resolution,
  resolvedBy: l.resolvedBy,
});

const full = (l: DeadLetterRecord) => ({
  ...summary(l),
  partition: l.partition,
  offset: l.offset,
  headers: { ...l.headers },
  payload: l.payload,
  raw: l.raw,
});

/** The redriver's refusals as the problems the operations document. */
function refusal(error: unknown): never {
  if (error instanceof NotParkedError)
    throw new ProblemError({ status: 409, code: 'NOT_PARKED', detail: error.message });
  if (error instanceof NotSequenceHeadError)
    throw new ProblemError({
      status: 409,
      code: 'NOT_SEQUENCE_HEAD',
      detail: error.message,
      extra: { head: error.head },
    });
  if (error instanceof SequenceBusyError)
    throw new ProblemError({ status: 409, code: 'REDRIVE_IN_PROGRESS', detail: error.message });
  if (error instanceof UnknownConsumerError) throw new NotFound('consumer', error.consumer);
  throw error;
}

@Controller()
export class DeadLettersController {
  constructor(@Inject(MessageConsumers) private readonly consumers: MessageConsumers) {}

  @Route(listDeadLetters)
  async list(@Input('query') query: QueryOf<typeof listDeadLetters>) {
    const letters = await this.consumers.deadLetters.list(query);
    return { deadLetters: letters.map(summary) };
  }

  @Route(getDeadLetter)
  async get(@Input('params') { id }: ParamsOf<typeof getDeadLetter>) {
    const letter = await this.consumers.deadLetters.get(id);
    if (!letter) throw new NotFound('dead letter', id);
    return full(letter);
  }

  @Route(redriveDeadLetter)
  async redriveOne(
    @Input('params') { id }: ParamsOf<typeof redriveDeadLetter>,
    @Input('body') { dryRun }: BodyOf<typeof redriveDeadLetter>,
    @CommandContext() request: CommandRequest,
  ): Promise<RedriveReport> {
    const report = await this.consumers.redriver
      .redriveOne(id, { dryRun, by: request.metadata.actor ?? null })
      .catch(refusal);
    if (!report) throw new NotFound('dead letter', id);
    return report;
  }

  @Route(redriveDeadLetters)
  redrive(
    @Input('params') { consumer }: ParamsOf<typeof redriveDeadLetters>,
    @Input('body') body: BodyOf<typeof redriveDeadLetters>,
    @CommandContext() request: CommandRequest,
  ): Promise<RedriveReport> {
    return this.consumers.redriver
      .redrive({ ...body, consumer, by: request.metadata.actor ?? null })
      .catch(refusal);
  }

  @Route(discardDeadLetter)
  async discard(
    @Input('params') { id }: ParamsOf<typeof discardDeadLetter>,
    @Input('body') { reason }: BodyOf<typeof discardDeadLetter>,
    @CommandContext() request: CommandRequest,
  ) {
    const store = this.consumers.deadLetters;
    const letter = await store.get(id);
    if (!letter) throw new NotFound('dead letter', id);
    if (!(await store.discard(id, reason, request.metadata.actor ?? null))) {
      const now = await store.get(id);
      refusal(new NotParkedError(id, now?.status ?? 'gone'));
    }
    const discarded = await store.get(id);
    return full(discarded ?? letter);
  }
}
