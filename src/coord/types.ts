/** Coordination: per-document write locks, the revision mirror and the change broadcast. */

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
  /** Throws a `lock-lost` StaticsError when the lock expired or was taken; call before moving `current`. */
  assertHeld(): Promise<void>;
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
  /** Mirrors the revision (deleting the mirror key for a delete) and broadcasts the event. */
  recordChange(event: ChangeEvent): Promise<void>;
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
