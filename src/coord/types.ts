/** Coordination: per-document write locks, the revision mirror and the change broadcast. */
import type { CurrentRecord } from '../store/types.js';

/** Who holds a lock, so `statics unlock` can say. */
export interface LockOwner {
  host: string;
  pid: number;
  operation: string;
  since: string;
}

export interface LockInfo {
  key: string;
  owner: LockOwner | null;
  /** Milliseconds until the lock expires unless renewed. */
  expiresInMs: number | null;
}

export interface HeldLock {
  readonly key: string;
  /**
   * `current` as the last writer under this coordinator recorded it (null: known absent), when the
   * coordinator can vouch that nothing has moved it since: that write finished, none has begun
   * since, and the coordinator has not lost memory in between. Undefined otherwise: read the store.
   */
  readonly recorded: CurrentRecord | null | undefined;
  /**
   * Throws a `lock-lost` StaticsError when the lock expired or was taken; call right before moving
   * `current`. From then until `record`, the coordinator vouches for nothing about this document.
   */
  assertHeld(): Promise<void>;
  /**
   * The end of a write, after `current` moved (or was found moved): mirrors the revision,
   * broadcasts the event, remembers `current` (what the store now holds) for the next writer
   * while the lock is still ours, and releases the lock.
   */
  recordAndRelease(event: ChangeEvent, current: CurrentRecord | null): Promise<void>;
  /** Releases the lock if still ours; never removes another holder's lock. */
  release(): Promise<void>;
}

export interface AcquireOptions {
  operation: string;
  /** Give up after this long (a `lock-timeout` error). */
  timeoutMs: number;
}

/** A change of `current`, as broadcast to readers. Shape: schemas/event.schema.json. */
export interface ChangeEvent {
  version: 1;
  key: string;
  action: 'update' | 'delete';
  revision: string | null;
  previous: string | null;
  at: string;
  commit?: string;
}

export interface Coordinator {
  readonly description: string;
  /** False where the store is its own index (the embedded store): nothing to mirror or repair. */
  readonly mirrors: boolean;
  acquire(key: string, options: AcquireOptions): Promise<HeldLock>;
  lockInfo(key: string): Promise<LockInfo | null>;
  /** Removes a lock whoever holds it; true when one was there. */
  forceUnlock(key: string): Promise<boolean>;
  /** The mirrored revisions of these documents (null where absent). */
  readMirror(keys: readonly string[]): Promise<Map<string, string | null>>;
  close(): Promise<void>;
}

/** ` (held by … on host, pid N, since …)`, for messages about a lock. */
export function describeHolder(info: LockInfo | null): string {
  if (!info?.owner) return '';
  const { host, pid, operation, since } = info.owner;
  return ` (held by ${operation} on ${host}, pid ${pid}, since ${since})`;
}

/** The wire form of an event: fixed field order, nothing beyond the schema (plus `stream` when given). */
export function eventJson(event: ChangeEvent & { stream?: string }): string {
  return JSON.stringify({
    version: event.version,
    key: event.key,
    action: event.action,
    revision: event.revision,
    previous: event.previous,
    at: event.at,
    ...(event.commit ? { commit: event.commit } : {}),
    ...(event.stream ? { stream: event.stream } : {}),
  });
}
