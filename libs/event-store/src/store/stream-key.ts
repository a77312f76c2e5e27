import type { StreamRef } from './types';

/** A stream as one string: the key of the handler's locks and cache, and the order appends are sent in. */
export const streamKey = (s: StreamRef): string => `${s.type}/${s.id}`;
