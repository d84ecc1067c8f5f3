/**
 * The reader's two Redis connections, shared by every watch of a client:
 * - `sub` holds the subscription to `<ns>statics:changes`. While it stays connected, pub/sub
 *   delivers every message, in the order of the stream ids it carries (XADD and PUBLISH run in
 *   one script), so nothing needs reading while it is up.
 * - `cmd` runs reads: the stream (catching up after a reconnect), the mirror keys, INFO.
 * Both reconnect forever with capped backoff; what a reconnect means for a watch (catch up or
 * re-sync) is decided in watch.ts. Loaded only when Redis is configured (ioredis is slow to load).
 */
import type { ConnectionOptions } from 'node:tls';
import { Redis, type RedisOptions } from 'ioredis';
import { CHANGES_CHANNEL, EVENTS_STREAM, mirrorKey } from '../coord/redis.js';
import { parseRedisUrl, redactRedisUrl } from '../coord/redis-url.js';
import { StaticsError, messageOf } from '../errors.js';
import { parseEvent, type StreamEntry } from './events.js';

export interface FeedOptions {
  url: string;
  namespace: string;
  tls?: ConnectionOptions;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** How often the subscription is PINGed: a Redis that stops answering keeps its sockets open. */
  healthCheckMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** CLIENT SETNAME of the connections: `<name>` for reads, `<name>:feed` for the subscription. */
  clientName: string;
}

/** What a watch hears from the feed. Calls arrive in the order of events on the connections. */
export interface FeedListener {
  /**
   * A new subscription is being made; `acked` settles once Redis confirmed it. Every message
   * after this call belongs to the new subscription, so a catch-up read after `acked` plus
   * those messages miss nothing.
   */
  subscribing(acked: Promise<void>): void;
  message(entry: StreamEntry): void;
  /** The subscription is gone (connection lost or unresponsive); messages may be missed until the next `subscribing`. */
  down(reason: string): void;
}

type RawEntry = [string, string[]];

export class ChangeFeed {
  readonly description: string;
  readonly namespace: string;
  /** The events stream's key (namespace included). */
  readonly stream: string;
  private readonly channel: string;
  private readonly cmd: Redis;
  private readonly sub: Redis;
  private readonly listeners = new Set<FeedListener>();
  private readonly secrets: string[];
  /** The current subscription's confirmation; null while there is none. */
  private ack: Promise<void> | null = null;
  private runIdRead: Promise<string | undefined> | null = null;
  private readonly health: NodeJS.Timeout;
  private pinging = false;
  private closed = false;
  /** The last connection error, one line and without secrets. */
  lastError: string | undefined;

  constructor(private readonly options: FeedOptions) {
    this.description = redactRedisUrl(options.url);
    this.namespace = options.namespace;
    this.stream = options.namespace + EVENTS_STREAM;
    this.channel = options.namespace + CHANGES_CHANNEL;
    const target = parseRedisUrl(options.url, this.description);
    this.secrets = [target.password ?? '', target.password ? encodeURIComponent(target.password) : ''].filter(Boolean);
    const base: RedisOptions = {
      host: target.host,
      port: target.port,
      db: target.db,
      ...(target.username ? { username: target.username } : {}),
      ...(target.password ? { password: target.password } : {}),
      ...(target.tls ? { tls: { ...options.tls } } : {}),
      lazyConnect: true,
      connectTimeout: options.connectTimeoutMs,
      commandTimeout: options.commandTimeoutMs,
      // Fail fast while disconnected: the caller then reads the store instead of waiting.
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      // INFO needs the @dangerous ACL category, which hosted Redis users often lack.
      enableReadyCheck: false,
      disableClientInfo: true,
      maintNotifications: 'disabled',
      disconnectTimeout: 500,
      // A reader keeps trying for as long as it runs; the store covers for Redis meanwhile.
      retryStrategy: (times) => (this.closed ? null : Math.min(options.reconnectMinMs * 2 ** Math.min(times - 1, 10), options.reconnectMaxMs)),
    };
    this.cmd = new Redis({ ...base, connectionName: options.clientName });
    // Resubscribed by hand on 'ready', so the moment of the new subscription is known.
    this.sub = new Redis({ ...base, connectionName: `${options.clientName}:feed`, autoResubscribe: false });

    // Without listeners ioredis prints connection errors; they are kept for notices instead.
    const remember = (error: Error): void => {
      this.lastError = this.scrub(messageOf(error));
    };
    this.cmd.on('error', remember);
    this.sub.on('error', remember);
    // A new connection may be to a restarted server: ask again.
    this.cmd.on('close', () => {
      this.runIdRead = null;
    });
    this.sub.on('ready', () => this.subscribe());
    this.sub.on('close', () => this.lost('connection closed'));
    this.sub.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return;
      const event = parseEvent(message);
      // A message without a stream id cannot be placed; the next catch-up reads its entry.
      if (!event?.stream) return;
      const { stream: id, ...rest } = event;
      for (const listener of this.listeners) listener.message({ id, event: rest });
    });
    this.health = setInterval(() => this.checkHealth(), options.healthCheckMs);
    this.health.unref();
    this.cmd.connect().catch(() => {});
    this.sub.connect().catch(() => {});
  }

  /** Registers a watch; it is told at once about a subscription already being made or made. */
  listen(listener: FeedListener): () => void {
    this.listeners.add(listener);
    if (this.ack) listener.subscribing(this.ack);
    return () => this.listeners.delete(listener);
  }

  /** The current subscription's confirmation, or null while there is none. */
  currentSubscription(): Promise<void> | null {
    return this.ack;
  }

  /** True while reads can be sent (they still may fail). */
  get readable(): boolean {
    return this.cmd.status === 'ready';
  }

  private subscribe(): void {
    if (this.closed) return;
    const acked = this.sub.subscribe(this.channel).then(() => undefined);
    this.ack = acked;
    acked.catch((error: unknown) => {
      if (this.ack !== acked) return;
      this.lastError = this.scrub(messageOf(error));
      // No confirmation (Redis stalled?): start over on a new connection.
      this.lost(`subscribing failed: ${this.lastError}`);
      if (!this.closed) this.sub.disconnect(true);
    });
    for (const listener of this.listeners) listener.subscribing(acked);
  }

  private lost(reason: string): void {
    if (!this.ack) return;
    this.ack = null;
    for (const listener of this.listeners) listener.down(reason);
  }

  /** A Redis that is stopped (not dead) keeps the socket open: only an unanswered PING tells. */
  private checkHealth(): void {
    if (this.closed || this.pinging || !this.ack || this.sub.status !== 'ready') return;
    this.pinging = true;
    const wait = Math.max(this.options.healthCheckMs, 1_000);
    let settled = false;
    const settle = (problem?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.pinging = false;
      if (!problem || this.closed || this.sub.status !== 'ready') return;
      this.lastError = problem;
      this.lost(problem);
      this.sub.disconnect(true);
    };
    const timer = setTimeout(() => settle(`no answer to PING within ${wait} ms`), wait);
    this.sub.ping().then(
      () => settle(),
      (error: unknown) => settle(`PING failed: ${this.scrub(messageOf(error))}`),
    );
  }

  /** The newest entry of the stream, or null when it is empty or absent. */
  async lastEntry(): Promise<StreamEntry | null> {
    const reply = (await this.run('reading the stream', () => this.cmd.xrevrange(this.stream, '+', '-', 'COUNT', 1))) as RawEntry[];
    return reply.length > 0 ? toEntry(reply[0]!) : null;
  }

  /** The entry with exactly this id, or null. */
  async entryAt(id: string): Promise<StreamEntry | null> {
    const reply = (await this.run('reading the stream', () => this.cmd.xrange(this.stream, id, id))) as RawEntry[];
    return reply.length > 0 ? toEntry(reply[0]!) : null;
  }

  /** Up to `count` entries after `id` (exclusive), oldest first. */
  async readAfter(id: string, count: number): Promise<StreamEntry[]> {
    const reply = (await this.run('reading the stream', () => this.cmd.xread('COUNT', count, 'STREAMS', this.stream, id))) as
      | [string, RawEntry[]][]
      | null;
    return (reply?.[0]?.[1] ?? []).map(toEntry);
  }

  /** Entries in (after, upTo], oldest first, at most `count`. */
  async range(after: string, upTo: string, count: number): Promise<StreamEntry[]> {
    const reply = (await this.run('reading the stream', () => this.cmd.xrange(this.stream, `(${after}`, upTo, 'COUNT', count))) as RawEntry[];
    return reply.map(toEntry);
  }

  /**
   * The server's run_id, which changes when Redis restarts (whatever survived in its data), or
   * undefined where INFO is not allowed. Asked once per connection.
   */
  runId(): Promise<string | undefined> {
    if (!this.runIdRead) {
      const reading = this.cmd.info('server').then(
        (text) => /^run_id:(\S+)/m.exec(text)?.[1],
        () => {
          // Not cached: the connection may simply not be up yet.
          if (this.runIdRead === reading) this.runIdRead = null;
          return undefined;
        },
      );
      this.runIdRead = reading;
    }
    return this.runIdRead;
  }

  /**
   * Waits for the read connection: true once it is up, false when an attempt fails or
   * `timeoutMs` passes first.
   */
  async whenReadable(timeoutMs: number): Promise<boolean> {
    if (this.readable) return true;
    if (this.closed) return false;
    return new Promise<boolean>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.cmd.off('ready', done);
        this.cmd.off('close', done);
        resolve(this.readable);
      };
      const timer = setTimeout(done, timeoutMs);
      this.cmd.on('ready', done);
      this.cmd.on('close', done);
    });
  }

  /** The mirror keys of these documents (null where absent). */
  async mirror(keys: readonly string[]): Promise<Map<string, string | null>> {
    const result = new Map<string, string | null>();
    for (let i = 0; i < keys.length; i += 1000) {
      const chunk = keys.slice(i, i + 1000);
      const values = await this.run('reading the mirror', () => this.cmd.mget(chunk.map((key) => mirrorKey(this.namespace, key))));
      chunk.forEach((key, j) => result.set(key, values[j] ?? null));
    }
    return result;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.health);
    this.listeners.clear();
    this.ack = null;
    await Promise.all([quit(this.cmd), quit(this.sub)]);
  }

  private async run<T>(what: string, command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      let reason = this.scrub(messageOf(error));
      if (reason.includes('enableOfflineQueue') || reason === 'Connection is closed.') reason = 'not connected';
      else if (reason === 'Command timed out') reason = 'no answer in time';
      throw new StaticsError('coord', `Redis at ${this.description}: ${what} failed: ${reason}`, undefined, { cause: error });
    }
  }

  private scrub(text: string): string {
    let result = text.split('\n')[0] ?? '';
    for (const secret of this.secrets) result = result.replaceAll(secret, '***');
    return result;
  }
}

function toEntry([id, fields]: RawEntry): StreamEntry {
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] !== 'event') continue;
    const event = parseEvent(fields[i + 1]!);
    if (!event) break;
    delete event.stream;
    return { id, event };
  }
  return { id, event: null };
}

/** QUIT with a short wait, then drop: a closing reader must not hang on a stalled server. */
async function quit(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  let timer: NodeJS.Timeout | undefined;
  try {
    if (client.status === 'ready') {
      await Promise.race([
        client.quit(),
        new Promise((resolve) => {
          timer = setTimeout(resolve, 500);
        }),
      ]);
    }
  } catch {
    // Dropped below either way.
  } finally {
    clearTimeout(timer);
    // Re-read: QUIT may have ended it meanwhile (disconnecting an ended client arms a timer).
    if ((client.status as string) !== 'end') client.disconnect();
  }
}
