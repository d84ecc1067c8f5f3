/** What readers are handed: change events, where they came from, and the stream ids that order them. */
import { eventJson, type ChangeEvent } from '../coord/types.js';
import { StaticsError } from '../errors.js';
import { isRevision, isValidName, parseKey } from '../keys.js';

/** A change as delivered: the event of schemas/event.schema.json, with `stream` when it came from the stream. */
export interface WatchEvent extends ChangeEvent {
  /** The id of the event's entry in the `statics:events` stream; absent for changes found by reading the store. */
  stream?: string;
}

/**
 * How a change reached the reader:
 * - `stream`: an entry of the Redis stream (live through pub/sub, or read to catch up);
 * - `snapshot`: the first read of the store, for a watch started with `snapshot: true`;
 * - `resync`: a read of the store after the stream could not be continued (trimmed, or Redis restarted);
 * - `poll`: a read of the store while Redis is unreachable (or not configured).
 */
export type DeliverySource = 'stream' | 'snapshot' | 'resync' | 'poll';

/** One entry of the events stream. `event` is null when the entry is not a valid event (it is skipped). */
export interface StreamEntry {
  id: string;
  event: ChangeEvent | null;
}

/** The position before any entry: reading after it reads the whole stream. */
export const STREAM_START = '0-0';

const STREAM_ID = /^(\d+)-(\d+)$/;

export function isStreamId(text: string): boolean {
  return STREAM_ID.test(text);
}

/** Orders two stream ids (`ms-seq`); BigInt because both parts are 64-bit. */
export function compareStreamIds(a: string, b: string): number {
  const left = STREAM_ID.exec(a);
  const right = STREAM_ID.exec(b);
  if (!left || !right) throw new StaticsError('internal', `not a stream id: ${left ? b : a}`);
  const ms = BigInt(left[1]!) - BigInt(right[1]!);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const seq = BigInt(left[2]!) - BigInt(right[2]!);
  return seq === 0n ? 0 : seq < 0n ? -1 : 1;
}

/** The `event` field of a stream entry (or a published message), or null when it is not a valid event. */
export function parseEvent(text: string): (ChangeEvent & { stream?: string }) | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const body = value as Record<string, unknown>;
  if (body.version !== 1 || typeof body.key !== 'string' || typeof body.at !== 'string') return null;
  const parts = body.key.split('/');
  if (parts.length !== 3 || !parts.every(isValidName)) return null;
  const revision = body.revision;
  const previous = body.previous;
  if (body.action === 'update') {
    if (typeof revision !== 'string' || !isRevision(revision)) return null;
  } else if (body.action === 'delete') {
    if (revision !== null) return null;
  } else {
    return null;
  }
  if (previous !== null && (typeof previous !== 'string' || !isRevision(previous))) return null;
  const event: ChangeEvent & { stream?: string } = {
    version: 1,
    key: body.key,
    action: body.action,
    revision: revision as string | null,
    previous: previous as string | null,
    at: body.at,
  };
  if (typeof body.commit === 'string') event.commit = body.commit;
  if (typeof body.stream === 'string' && isStreamId(body.stream)) event.stream = body.stream;
  return event;
}

/** The wire form, fields in schema order, so printed events look the same whatever their source. */
export function eventLine(event: WatchEvent): string {
  return eventJson(event);
}

/**
 * A key prefix such as `payments/` or `payments/flags/` (or '' for everything); the parts it names
 * in full must be valid names, so a typo cannot silently match nothing forever.
 */
export function normalizePrefix(prefix: string | undefined): string {
  const text = (prefix ?? '').trim();
  if (text === '') return '';
  const parts = text.split('/');
  const complete = parts.slice(0, -1);
  const partial = parts[parts.length - 1]!;
  if (complete.length > 2) {
    throw new StaticsError('usage', `invalid prefix "${prefix}": a key has three parts, domain/type/id`);
  }
  for (const part of complete) {
    if (!isValidName(part)) throw new StaticsError('usage', `invalid prefix "${prefix}": "${part}" is not a valid name`);
  }
  if (partial !== '' && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(partial)) {
    throw new StaticsError('usage', `invalid prefix "${prefix}": "${partial}" cannot start a valid name`);
  }
  return text;
}

/** `domain/type/id` with each part checked; throws a usage error naming the rule broken. */
export function documentKey(key: string): string {
  const { domain, type, id } = parseKey(key);
  return `${domain}/${type}/${id}`;
}

/** What a change leaves `current` as: its revision, or null for a delete. */
export function stateOf(event: ChangeEvent): string | null {
  return event.action === 'delete' ? null : event.revision;
}
