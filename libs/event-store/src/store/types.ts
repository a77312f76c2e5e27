import type { EventMetadata } from '@es/messaging';

export interface StreamRef {
  /** The aggregate type, e.g. `order`. */
  readonly type: string;
  readonly id: string;
}

export interface NewEvent<Type extends string = string, Data = unknown> {
  readonly type: Type;
  readonly data: Data;
}

export interface RecordedEvent<Type extends string = string, Data = unknown> {
  readonly eventId: string;
  readonly type: Type;
  readonly schemaVersion: number;
  readonly data: Data;
  readonly metadata: EventMetadata;
  readonly streamType: string;
  readonly streamId: string;
  readonly streamVersion: number;
  /** bigint: positions outgrow Number.MAX_SAFE_INTEGER in long-lived stores. */
  readonly globalPosition: bigint;
  readonly recordedAt: Date;
  readonly transactionId: bigint;
}

/** `no_stream`: the stream must not exist; `any`: no check; a number: the stream's current version. */
export type ExpectedVersion = number | 'no_stream' | 'any';

/** Where a reader of all events has got to: (writing transaction, position), see readAll. */
export interface AllCheckpoint {
  readonly transactionId: bigint;
  readonly position: bigint;
}

export const START: AllCheckpoint = { transactionId: 0n, position: 0n };
