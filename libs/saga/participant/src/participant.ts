// The participant side of a saga, with the saga: a participant handler receives a typed
// command and returns its decision, whose outcome is the command's typed reply; the reply is an
// outbox row of the very append of the effect that earns it, so it is sent exactly when the
// effect happened (a refusal's reply with the refusal's inbox mark). One route for every
// Kafka-driven command: parse against the contract, decide, carry out with the reply; no
// in-process bus between the message and its effect. A service declares its participant as a
// definition and registers it with `participantProvider`.
import {
  uuidv7,
  type CommandHandler,
  type Decision,
  type HandleContext,
  type OutboxMessage,
} from '@es/event-store';
import { PoisonMessage, metadataOf, type ConsumedMessage, type InboxRef } from '@es/messaging';
import { SAGA_REPLIES_TOPIC, type ReplyResult, type SagaCommandMessage } from '@es/saga-contracts';
import { parse, type z } from '@es/schema';
import { COMMAND_HANDLER, MessageConsumers } from '@es/service-runtime';
import type { Provider } from '@nestjs/common';

export interface ParticipantDefinition<C extends SagaCommandMessage> {
  /** The context's command topic, e.g. `inventory.commands`. */
  readonly topic: string;
  /** The commands it accepts (a union of `messageSchema`s): anything else is poison. */
  readonly schema: z.ZodType<C>;
  /** A typed command in; what to do, and the typed reply that earns, out. */
  decide(
    command: C,
    on: { readonly handler: CommandHandler; readonly context: HandleContext },
  ): Decision<ReplyResult> | Promise<Decision<ReplyResult>>;
}

/** What a participant consumes: its topic, and a handler for the inbox consumer. */
export interface ParticipantConsumer {
  readonly topics: readonly string[];
  readonly handler: (message: ConsumedMessage, inbox: InboxRef) => Promise<void>;
}

/** A command's reply as it travels on `sagas.replies`, keyed by the saga's id. */
export function sagaReply(command: SagaCommandMessage, result: ReplyResult): OutboxMessage {
  return {
    topic: SAGA_REPLIES_TOPIC,
    key: command.sagaId,
    messageId: uuidv7(),
    payload: {
      type: 'Reply',
      command: command.type,
      version: command.version,
      sagaId: command.sagaId,
      ...(command.saga === undefined ? {} : { saga: command.saga }),
      result,
    },
  };
}

/** The consumer of a participant's command topic, carrying out each command with its reply. */
export function participantConsumer<C extends SagaCommandMessage>(
  handler: CommandHandler,
  participant: ParticipantDefinition<C>,
): ParticipantConsumer {
  return {
    topics: [participant.topic],
    handler: async (message, inbox) => {
      const parsed = parse(participant.schema, message.payload);
      if (!parsed.ok)
        throw new PoisonMessage(
          `not a command of ${participant.topic}: ${parsed.problems.map((p) => `${p.field}: ${p.problem}`).join('; ')}`,
        );
      const command = parsed.value;
      const context: HandleContext = { metadata: metadataOf(message, 'saga'), inbox };
      const decision = await participant.decide(command, { handler, context });
      await handler.carryOut(decision, context, (reply) => [sagaReply(command, reply)]);
    },
  };
}

/**
 * The participant in a NestJS service: a provider that registers its consumer with the
 * service's consumers when the module starts (they start once the application is up).
 */
export function participantProvider<C extends SagaCommandMessage>(
  participant: ParticipantDefinition<C>,
): Provider {
  return {
    provide: `participant:${participant.topic}`,
    inject: [MessageConsumers, COMMAND_HANDLER],
    useFactory: (consumers: MessageConsumers, handler: CommandHandler) => {
      consumers.consume(participantConsumer(handler, participant));
      return participant;
    },
  };
}
