/**
 * Coordination through Redis: per-document write locks (`SET NX PX` with a random token, renewed
 * while held, released by compare-and-delete), the `current` mirror, and the change broadcast
 * (a capped stream for catching up, pub/sub for the live feed). Keys, channel and message shape
 * are the contract in DESIGN.md ("Coordination contract (Redis)") and schemas/event.schema.json.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { ConnectionOptions } from 'node:tls';
import { Redis } from 'ioredis';
import { StaticsError, messageOf } from '../errors.js';
import { colonKey, isRevision, parseKey } from '../keys.js';
import { backoffDelay, sleep } from '../util/concurrency.js';
import { describeHolder, eventJson, type AcquireOptions, type ChangeEvent, type Coordinator, type HeldLock, type LockInfo, type LockOwner } from './types.js';
import type { Transition } from '../model.js';
import type { CurrentRecord } from '../store/types.js';

import { parseRedisUrl, redactRedisUrl, type RedisTarget } from './redis-url.js';

export { redactRedisUrl };

export const CHANGES_CHANNEL = 'statics:changes';
export const EVENTS_STREAM = 'statics:events';

export interface RedisCoordinatorOptions {
  /** `redis://[user:password@]host[:port][/db]`, or `rediss://…` for TLS. */
  url: string;
  /** Plain prefix for every key, channel and stream (e.g. `prod:`), for stores sharing one Redis. */
  namespace?: string;
  /** Lock lifetime without renewal; a held lock is renewed every third of it. */
  lockTtlMs: number;
  /** How long `connect` waits for Redis to answer. Default 5 s. */
  connectTimeoutMs?: number;
  /** How long any one command may take before it fails. Default 5 s. */
  commandTimeoutMs?: number;
  /** Approximate cap on the events stream. Default 100,000. */
  streamMaxLength?: number;
  /** Extra TLS settings for `rediss://` (e.g. `ca` for a private certificate authority). */
  tls?: ConnectionOptions;
}

/** `${ns}lock:<domain>:<type>:<id>` */
export function lockKey(namespace: string, key: string): string {
  return `${namespace}lock:${colonKey(parseKey(key))}`;
}

/** `${ns}<domain>:<type>:<id>`, holding the revision `current` points at. */
export function mirrorKey(namespace: string, key: string): string {
  return `${namespace}${colonKey(parseKey(key))}`;
}

/**
 * `${ns}record:<domain>:<type>:<id>`: the writers' own note of `current` (a hash: revision,
 * transitions, server, writing), so a writer under the lock need not re-read the store.
 */
export function recordKey(namespace: string, key: string): string {
  return `${namespace}record:${colonKey(parseKey(key))}`;
}

/** A record untouched this long expires: memory follows recent writes, not the store's size. */
export const RECORD_TTL_MS = 7 * 24 * 3600 * 1000;

// Scripts are loaded once per connection (EVALSHA, falling back to EVAL on NOSCRIPT).
const SCRIPTS = {
  /**
   * SET NX PX, and when taken, the record of `current` if it can be vouched for: written by a
   * finished write (no `writing` mark) of this very server process (its run_id), whose memory
   * is therefore unbroken since: a restart, even from a snapshot or AOF, or a failover to a
   * replica makes every older record untrusted. Replies nil (not taken), {server} or
   * {server, revision, transitions}.
   */
  staticsAcquire: {
    numberOfKeys: 2,
    lua: `local server = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)') or ''
if not redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return false end
local record = redis.call('HMGET', KEYS[2], 'revision', 'transitions', 'server', 'writing')
if server ~= '' and record[1] and record[2] and record[3] == server and not record[4] then return {server, record[1], record[2]} end
return {server}`,
  },
  /** Compare-and-PEXPIRE: 1 when renewed, 0 when the lock is gone or someone else's. */
  staticsRenew: {
    numberOfKeys: 1,
    lua: `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`,
  },
  /**
   * Compare-and-PEXPIRE, then the remaining PTTL; -3 when the lock is not ours. A write of
   * `current` follows, so the record is marked `writing`: untrusted until that write is recorded.
   */
  staticsConfirm: {
    numberOfKeys: 2,
    lua: `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -3 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('HSET', KEYS[2], 'writing', '1') end
return redis.call('PTTL', KEYS[1])`,
  },
  /** Compare-and-delete: never removes another holder's lock. */
  staticsRelease: {
    numberOfKeys: 1,
    lua: `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
  },
  /** Value and PTTL read atomically, so they describe the same holder. */
  staticsLockInfo: {
    numberOfKeys: 1,
    readOnly: true,
    lua: `local value = redis.call('GET', KEYS[1])
if not value then return false end
return {value, redis.call('PTTL', KEYS[1])}`,
  },
  /**
   * Mirror, stream and broadcast in one atomic step, so no crash can mirror without broadcasting or
   * the reverse. XADD goes first: if it fails (e.g. out of memory), nothing has been written.
   * The published form is the event plus the stream id, so a subscriber can resume from the stream.
   * Then the record of `current` is replaced (kept only while the lock is ours: a writer that lost
   * it cannot vouch for what `current` now is) and the lock released: one round trip for all.
   */
  staticsRecord: {
    numberOfKeys: 4,
    lua: `local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'event', ARGV[3])
if ARGV[1] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[1]) end
redis.call('PUBLISH', ARGV[4], string.sub(ARGV[3], 1, -2) .. ',"stream":"' .. id .. '"}')
redis.call('DEL', KEYS[3])
if redis.call('GET', KEYS[4]) == ARGV[5] then
  if ARGV[6] ~= '' then
    redis.call('HSET', KEYS[3], 'revision', ARGV[1], 'transitions', ARGV[7], 'server', ARGV[6])
    redis.call('PEXPIRE', KEYS[3], ARGV[8])
  end
  redis.call('DEL', KEYS[4])
end
return id`,
  },
} as const;

interface ScriptCommands {
  staticsAcquire(lock: string, record: string, value: string, ttlMs: number): Promise<[string, string?, string?] | null>;
  staticsRenew(lock: string, value: string, ttlMs: number): Promise<number>;
  staticsConfirm(lock: string, record: string, value: string, ttlMs: number): Promise<number>;
  staticsRelease(lock: string, value: string): Promise<number>;
  staticsLockInfo(lock: string): Promise<[string, number] | null>;
  staticsRecord(
    mirror: string,
    stream: string,
    record: string,
    lock: string,
    revision: string,
    maxLength: number,
    event: string,
    channel: string,
    lockValue: string,
    server: string,
    transitions: string,
    recordTtlMs: number,
  ): Promise<string>;
}

const MGET_CHUNK = 1000;

/** What a held lock needs from its coordinator. */
interface LockContext {
  scripts: ScriptCommands;
  ttlMs: number;
  namespace: string;
  streamMaxLength: number;
  failure(what: string, error: unknown): StaticsError;
  forget(lock: RedisLock): void;
}

export class RedisCoordinator implements Coordinator {
  readonly mirrors = true;
  readonly description: string;
  private readonly namespace: string;
  private readonly ttlMs: number;
  private readonly streamMaxLength: number;
  private readonly scripts: ScriptCommands;
  private readonly held = new Set<RedisLock>();
  private readonly host = hostname();
  private readonly context: LockContext;
  private closed = false;
  /** False once the server refused INFO to a script: no record is trusted or kept then. */
  private vouching = true;

  private constructor(
    private readonly client: Redis,
    private readonly secrets: string[],
    private readonly state: { ready: boolean; closing: boolean },
    options: RedisCoordinatorOptions,
  ) {
    this.description = redactRedisUrl(options.url);
    this.namespace = options.namespace ?? '';
    this.ttlMs = Math.ceil(options.lockTtlMs);
    this.streamMaxLength = options.streamMaxLength ?? 100_000;
    this.scripts = client as unknown as ScriptCommands;
    this.context = {
      scripts: this.scripts,
      ttlMs: this.ttlMs,
      namespace: this.namespace,
      streamMaxLength: this.streamMaxLength,
      failure: (what, error) => this.failure(what, error),
      forget: (lock) => this.held.delete(lock),
    };
  }

  /** Connects and checks that Redis answers; rejects within the connect timeout otherwise. */
  static async connect(options: RedisCoordinatorOptions): Promise<RedisCoordinator> {
    const redacted = redactRedisUrl(options.url);
    if (!(options.lockTtlMs >= 1)) throw new StaticsError('config', `the lock TTL must be positive (got ${options.lockTtlMs} ms)`);
    const target = parseRedisUrl(options.url, redacted);
    const secrets = [target.password ?? '', target.password ? encodeURIComponent(target.password) : ''].filter(Boolean);
    const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    const state = { ready: false, closing: false, lastError: undefined as Error | undefined };
    const client = new Redis({
      host: target.host,
      port: target.port,
      db: target.db,
      ...(target.username ? { username: target.username } : {}),
      ...(target.password ? { password: target.password } : {}),
      ...(target.tls ? { tls: { ...options.tls } } : {}),
      lazyConnect: true,
      connectTimeout: connectTimeoutMs,
      commandTimeout: options.commandTimeoutMs ?? 5_000,
      // Fail fast while disconnected instead of queueing without bound, and never re-send a
      // command whose reply was lost (a re-sent SET NX would find our own lock and wait on it).
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      // INFO needs the @dangerous ACL category, which hosted Redis users often lack.
      enableReadyCheck: false,
      maintNotifications: 'disabled',
      // How long a closing socket may linger before it is destroyed (it holds the process open).
      disconnectTimeout: 500,
      // Reconnect only once we have been connected: a first failure is reported, not retried.
      retryStrategy: (times) => (state.ready && !state.closing ? Math.min(50 * 2 ** Math.min(times, 6), 2_000) : null),
      scripts: SCRIPTS,
      // Commands of documents applied at once, sent in the same tick, go out in one write.
      enableAutoPipelining: true,
    });
    // Without a listener ioredis prints every connection error; they surface through commands.
    client.on('error', (error: Error) => {
      state.lastError = error;
    });

    let timer: NodeJS.Timeout | undefined;
    const connecting = client.connect().then(() => client.ping());
    connecting.catch(() => {});
    try {
      await Promise.race([
        connecting,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${connectTimeoutMs} ms`)), connectTimeoutMs);
        }),
      ]);
    } catch (error) {
      state.closing = true;
      dropConnection(client);
      throw connectFailure(redacted, target, state.lastError ?? (error as Error), secrets);
    } finally {
      clearTimeout(timer);
    }
    state.ready = true;
    return new RedisCoordinator(client, secrets, state, options);
  }

  async acquire(key: string, options: AcquireOptions): Promise<HeldLock> {
    const redisKey = lockKey(this.namespace, key);
    const token = randomBytes(16).toString('hex');
    const deadline = Date.now() + options.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      // Rebuilt per attempt so `since` says when the lock was taken, not when waiting began.
      const owner: LockOwner = { host: this.host, pid: process.pid, operation: options.operation, since: new Date().toISOString() };
      const value = JSON.stringify({ token, ...owner });
      let taken: Taken | null;
      try {
        taken = await this.take(key, redisKey, value);
      } catch (error) {
        throw this.failure(`locking ${key}`, error);
      }
      if (taken) {
        const lock = new RedisLock(key, redisKey, value, taken, this.context);
        this.held.add(lock);
        return lock;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        const info = await this.lockInfo(key).catch(() => null);
        throw new StaticsError('lock-timeout', `timed out after ${options.timeoutMs} ms waiting for the lock on ${key}${describeHolder(info)}`);
      }
      await sleep(Math.min(backoffDelay(attempt, 10, 500), left));
    }
  }

  /**
   * Takes the lock, with the record of `current` where Redis can vouch for it. Where the server
   * refuses INFO to scripts (an ACL without @dangerous), a plain SET NX, and records are not kept.
   */
  private async take(key: string, redisKey: string, value: string): Promise<Taken | null> {
    if (this.vouching) {
      try {
        const reply = await this.scripts.staticsAcquire(redisKey, recordKey(this.namespace, key), value, this.ttlMs);
        if (!reply) return null;
        const [server = '', revision, transitions] = reply;
        // A server that names no run_id (a Redis look-alike) gets no record trusted or kept.
        return { server, recorded: server === '' || revision === undefined ? undefined : decodeRecord(revision, transitions) };
      } catch (error) {
        if (!/NOPERM|no permissions|can't run this command/i.test(messageOf(error))) throw error;
        this.vouching = false;
      }
    }
    return (await this.client.set(redisKey, value, 'PX', this.ttlMs, 'NX')) === 'OK' ? { server: '', recorded: undefined } : null;
  }

  async lockInfo(key: string): Promise<LockInfo | null> {
    let reply: [string, number] | null;
    try {
      reply = await this.scripts.staticsLockInfo(lockKey(this.namespace, key));
    } catch (error) {
      throw this.failure(`reading the lock on ${key}`, error);
    }
    if (!reply) return null;
    const [value, pttl] = reply;
    return { key, owner: parseOwner(value), expiresInMs: pttl >= 0 ? pttl : null };
  }

  async forceUnlock(key: string): Promise<boolean> {
    try {
      return (await this.client.del(lockKey(this.namespace, key))) > 0;
    } catch (error) {
      throw this.failure(`removing the lock on ${key}`, error);
    }
  }

  async readMirror(keys: readonly string[]): Promise<Map<string, string | null>> {
    const result = new Map<string, string | null>();
    if (keys.length === 0) return result;
    const chunks: string[][] = [];
    for (let i = 0; i < keys.length; i += MGET_CHUNK) chunks.push(keys.slice(i, i + MGET_CHUNK));
    const pipeline = this.client.pipeline();
    for (const chunk of chunks) pipeline.mget(chunk.map((key) => mirrorKey(this.namespace, key)));
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await pipeline.exec();
    } catch (error) {
      throw this.failure('reading the mirror', error);
    }
    chunks.forEach((chunk, index) => {
      const [error, values] = replies?.[index] ?? [new Error('no reply'), null];
      if (error) throw this.failure('reading the mirror', error);
      chunk.forEach((key, j) => result.set(key, (values as (string | null)[])[j] ?? null));
    });
    return result;
  }

  /** Releases any lock still held, then disconnects; timers are cleared so the process can exit. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.held].map((lock) => lock.release()));
    this.state.closing = true;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.client.quit(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('quit timed out')), 1_000);
        }),
      ]);
    } catch {
      // Unreachable or paused: drop the connection instead.
    } finally {
      clearTimeout(timer);
      dropConnection(this.client);
    }
  }

  private failure(what: string, error: unknown): StaticsError {
    let reason = messageOf(error);
    if (reason.includes("enableOfflineQueue options is false") || reason === 'Connection is closed.') reason = 'not connected';
    else if (reason === 'Command timed out') reason = 'no answer in time';
    return new StaticsError('coord', `Redis at ${this.description}: ${what} failed: ${scrub(reason, this.secrets)}`, undefined, { cause: error });
  }
}

/** A lock just taken: the server's run_id ('' where unknown) and the record it vouches for. */
interface Taken {
  server: string;
  recorded: CurrentRecord | null | undefined;
}

/** The record's fields as a `CurrentRecord`; undefined (read the store) when malformed. */
function decodeRecord(revision: string, transitions: string | undefined): CurrentRecord | null | undefined {
  if (revision === '') return null;
  if (!isRevision(revision) || transitions === undefined) return undefined;
  try {
    const parsed = JSON.parse(transitions) as unknown;
    return Array.isArray(parsed) ? { revision, transitions: parsed as Transition[] } : undefined;
  } catch {
    return undefined;
  }
}

class RedisLock implements HeldLock {
  readonly recorded: CurrentRecord | null | undefined;
  private state: 'held' | 'lost' | 'released' = 'held';
  private timer: NodeJS.Timeout | undefined;
  private readonly interval: number;
  private readonly server: string;

  constructor(
    readonly key: string,
    private readonly redisKey: string,
    private readonly value: string,
    taken: Taken,
    private readonly context: LockContext,
  ) {
    this.recorded = taken.recorded;
    this.server = taken.server;
    this.interval = Math.max(10, Math.floor(context.ttlMs / 3));
    this.schedule(this.interval);
  }

  /** Mirror, stream, broadcast, the record and the release in one atomic step (staticsRecord). */
  async recordAndRelease(event: ChangeEvent, current: CurrentRecord | null): Promise<void> {
    if ((event.action === 'delete') !== (event.revision === null)) {
      throw new StaticsError('internal', `change event for ${event.key}: a delete has no revision, an update has one`);
    }
    if ((current?.revision ?? null) !== event.revision) {
      throw new StaticsError('internal', `change event for ${event.key}: the recorded current is not the event's revision`);
    }
    const { namespace } = this.context;
    const held = this.state === 'held';
    // Released from here on whatever the reply: a lost reply must not leave a renewal running.
    this.state = 'released';
    this.stop();
    try {
      await this.context.scripts.staticsRecord(
        mirrorKey(namespace, event.key),
        namespace + EVENTS_STREAM,
        recordKey(namespace, event.key),
        this.redisKey,
        event.revision ?? '',
        this.context.streamMaxLength,
        eventJson(event),
        namespace + CHANGES_CHANNEL,
        held ? this.value : '',
        this.server,
        JSON.stringify(current?.transitions ?? []),
        RECORD_TTL_MS,
      );
    } catch (error) {
      if (held) await this.context.scripts.staticsRelease(this.redisKey, this.value).catch(() => {});
      throw this.context.failure(`recording the change of ${event.key}`, error);
    }
  }

  /**
   * Confirms the lock is ours and extends it to a full TTL in one step, so the write that follows
   * gets the most room. The lease is counted from when the request was sent (Redis set it no
   * earlier), and a lease shorter than a renewal period (ttl/3) is refused: a reply that slow means
   * Redis or this process is stalling, and the write of `current` must finish before expiry.
   */
  async assertHeld(): Promise<void> {
    if (this.state === 'released') throw new StaticsError('lock-lost', `the lock on ${this.key} was already released`);
    if (this.state === 'lost') throw this.lostError();
    const sent = Date.now();
    let pttl: number;
    try {
      pttl = await this.context.scripts.staticsConfirm(this.redisKey, recordKey(this.context.namespace, this.key), this.value, this.context.ttlMs);
    } catch (error) {
      throw new StaticsError('lock-lost', `cannot confirm the lock on ${this.key}: ${this.context.failure('checking the lock', error).message}`);
    }
    if (pttl < 0) {
      this.markLost();
      throw this.lostError();
    }
    const now = Date.now();
    const left = sent + pttl - now;
    if (left < this.context.ttlMs / 3) {
      throw new StaticsError(
        'lock-lost',
        `lost the lock on ${this.key}: Redis answered after ${now - sent} ms, leaving ${Math.max(0, left)} ms of its ${this.context.ttlMs} ms lease, too little to write safely`,
      );
    }
  }

  async release(): Promise<void> {
    if (this.state === 'released') return;
    const wasHeld = this.state === 'held';
    this.state = 'released';
    this.stop();
    // A lost lock is gone or someone else's: there is nothing of ours to delete.
    if (!wasHeld) return;
    try {
      await this.context.scripts.staticsRelease(this.redisKey, this.value);
    } catch (error) {
      throw this.context.failure(`releasing the lock on ${this.key}`, error);
    }
  }

  private schedule(delay: number): void {
    this.timer = setTimeout(() => void this.renew(), delay);
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    if (this.state !== 'held') return;
    let renewed: number;
    try {
      renewed = await this.context.scripts.staticsRenew(this.redisKey, this.value, this.context.ttlMs);
    } catch {
      // Transient (reconnecting, slow): try again sooner; assertHeld decides before any write.
      if (this.state === 'held') this.schedule(Math.max(10, Math.floor(this.interval / 3)));
      return;
    }
    if (this.state !== 'held') return;
    if (renewed === 1) this.schedule(this.interval);
    else this.markLost();
  }

  private markLost(): void {
    if (this.state !== 'held') return;
    this.state = 'lost';
    this.stop();
  }

  private stop(): void {
    clearTimeout(this.timer);
    this.context.forget(this);
  }

  private lostError(): StaticsError {
    return new StaticsError('lock-lost', `lost the lock on ${this.key}: it expired or another writer took it`);
  }
}

function parseOwner(value: string): LockOwner | null {
  try {
    const body = JSON.parse(value) as Partial<LockOwner>;
    if (typeof body.host === 'string' && typeof body.pid === 'number' && typeof body.operation === 'string' && typeof body.since === 'string') {
      return { host: body.host, pid: body.pid, operation: body.operation, since: body.since };
    }
  } catch {
    // Not one of ours (set by hand?): a lock without a known holder.
  }
  return null;
}

function connectFailure(redacted: string, target: RedisTarget, error: Error, secrets: string[]): StaticsError {
  const reason = scrub(messageOf(error), secrets).replace(/\s*Please report this\.?/, '');
  if (/WRONGPASS|invalid password|invalid username-password/i.test(reason)) {
    return new StaticsError('coord', `Redis refused the credentials for ${redacted}`, undefined, { cause: error });
  }
  if (/NOAUTH/i.test(reason)) {
    const hint = target.password ? '' : ': put them in the URL (redis://user:password@host:port)';
    return new StaticsError('coord', `Redis at ${redacted} requires credentials${hint}`, undefined, { cause: error });
  }
  let hint = '';
  if (/Unknown RESP type|Protocol error/i.test(reason)) hint = ' (the server there does not speak the Redis protocol)';
  else if (target.tls && /no answer within/.test(reason)) hint = ' (rediss:// needs a server that speaks TLS)';
  else if (!target.tls && /ECONNRESET/.test(reason)) hint = ' (if the server wants TLS, use rediss://)';
  return new StaticsError('coord', `cannot reach Redis at ${redacted}: ${reason}${hint}`, undefined, { cause: error });
}

/** Disconnects unless already ended: ioredis would otherwise arm a timer that keeps the process alive. */
function dropConnection(client: Redis): void {
  if (client.status !== 'end') client.disconnect();
}

function scrub(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) result = result.replaceAll(secret, '***');
  return result;
}
