// A command's consistency token (docs/decisions.md, Read models: read-your-writes): the stream it wrote and
// the version it reached, `order/0193...@3`. A query given it waits until its read model has
// seen that version. Stream types and ids never hold '/' or '@', so the text parses back.
import { streamKey } from '@es/messaging';
import { CONSISTENCY_TOKEN_PATTERN } from '@es/schema';
import type { StreamRef } from './types';

export interface ConsistencyToken {
  readonly stream: StreamRef;
  readonly version: number;
}

export function encodeConsistencyToken(token: ConsistencyToken): string {
  return `${streamKey(token.stream)}@${token.version}`;
}

/** The token, or undefined when the text is not one. */
export function decodeConsistencyToken(text: string): ConsistencyToken | undefined {
  const match = CONSISTENCY_TOKEN_PATTERN.exec(text);
  if (!match?.[1] || !match[2] || !match[3]) return undefined;
  const version = Number(match[3]);
  if (!Number.isSafeInteger(version)) return undefined;
  return { stream: { type: match[1], id: match[2] }, version };
}
