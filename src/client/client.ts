/**
 * The reader library: the latest document, a given revision, history, and a change feed.
 * S3 (or the embedded store) is the truth; Redis, when configured, is the fast path (the mirror
 * key names the current revision in one round trip) and the broadcast. Every read works without
 * Redis, only slower; revisions are immutable, so they are cached without expiry.
 */
import path from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { StaticsError, messageOf } from '../errors.js';
import { isRevision } from '../keys.js';
import type { Transition } from '../model.js';
import { LocalStore } from '../store/local.js';
import type { RevisionStore, StoredRevision } from '../store/types.js';
import { RevisionCache } from './cache.js';
import { documentKey, normalizePrefix } from './events.js';
import type { ChangeFeed } from './feed.js';
import { Watcher, type Watch, type WatchHandler, type WatchNotice, type WatchOptions } from './watch.js';

export interface ClientOptions {
  /** `s3://bucket/prefix` or `file://path`, or a store already open (then not closed by the client). */
  store: string | RevisionStore;
  /** For an `s3://` store: a non-AWS endpoint, the region, static credentials. Default: the AWS SDK's chain. */
  s3?: { endpoint?: string; region?: string; credentials?: { accessKeyId: string; secretAccessKey: string } };
  /** `redis://…` or `rediss://…`: the fast path for `get` and the change feed for `watch`. */
  redisUrl?: string;
  /** The key namespace the writers use (statics' `redisNamespace`). */
  namespace?: string;
  /** Extra TLS settings for `rediss://` (e.g. `ca`). */
  redisTls?: ConnectionOptions;
  /** Bytes of revisions cached in memory. Default 32 MiB. */
  cacheBytes?: number;
  /** A directory where fetched revisions are kept across restarts. */
  cacheDir?: string;
  /** How often a watch polls the store while Redis is unreachable (or not configured). Default 10 s. */
  pollIntervalMs?: number;
  /** Connect timeout; also how long a new watch waits for Redis before reading the store. Default 3 s. */
  connectTimeoutMs?: number;
  /** Per-command timeout. Default 5 s. */
  commandTimeoutMs?: number;
  /** How often the subscription is checked with a PING. Default 5 s. */
  healthCheckMs?: number;
  /** Reconnect backoff bounds. Default 100 ms to 2 s. */
  reconnect?: { minMs?: number; maxMs?: number };
  /** CLIENT SETNAME of the Redis connections (`NAME` and `NAME:feed`). Default `statics-reader`. */
  clientName?: string;
  /** Default for watches' `onNotice`. */
  onNotice?: (notice: WatchNotice) => void;
}

/** A document as read: the revision `current` names, with its bytes. */
export interface ClientDocument extends StoredRevision {
  key: string;
}

export const DEFAULT_POLL_INTERVAL_MS = 10_000;

export class StaticsClient {
  /** Where documents are read from, safe to print. */
  readonly description: string;
  private readonly cache: RevisionCache;
  private readonly watches = new Set<Watcher>();
  private closed = false;

  private constructor(
    readonly store: RevisionStore,
    private readonly ownsStore: boolean,
    private readonly feed: ChangeFeed | null,
    private readonly options: ClientOptions,
  ) {
    this.description = store.description;
    this.cache = new RevisionCache({ maxBytes: options.cacheBytes ?? 32 * 1024 * 1024, dir: options.cacheDir });
  }

  /**
   * Opens the store and, when configured, starts connecting to Redis (waiting up to the connect
   * timeout for it). An unreachable Redis is not an error: reads go to the store meanwhile.
   */
  static async open(options: ClientOptions): Promise<StaticsClient> {
    const owns = typeof options.store === 'string';
    const store = typeof options.store === 'string' ? await openReaderStore(options.store, options.s3) : options.store;
    let feed: ChangeFeed | null = null;
    try {
      if (options.redisUrl) {
        // Loaded on demand: ioredis costs a few hundred ms to load, and file:// readers never need it.
        const { ChangeFeed } = await import('./feed.js');
        feed = new ChangeFeed({
          url: options.redisUrl,
          namespace: options.namespace ?? '',
          tls: options.redisTls,
          connectTimeoutMs: options.connectTimeoutMs ?? 3_000,
          commandTimeoutMs: options.commandTimeoutMs ?? 5_000,
          healthCheckMs: options.healthCheckMs ?? 5_000,
          reconnectMinMs: options.reconnect?.minMs ?? 100,
          reconnectMaxMs: options.reconnect?.maxMs ?? 2_000,
          clientName: options.clientName ?? 'statics-reader',
        });
        await feed.whenReadable(options.connectTimeoutMs ?? 3_000);
      }
    } catch (error) {
      if (owns) await store.close();
      throw error;
    }
    return new StaticsClient(store, owns, feed, options);
  }

  /** The change stream read (`<redis URL without password> <key>`), or null without Redis. */
  get stream(): string | null {
    return this.feed ? `${this.feed.description} ${this.feed.stream}` : null;
  }

  /** True while the Redis fast path is connected. */
  get redisConnected(): boolean {
    return this.feed?.readable ?? false;
  }

  /**
   * The latest document, or null when it has no `current`. The mirror key names the revision
   * when Redis is up (one round trip; it may lag `current` by the moment between moving and
   * mirroring); otherwise, or when the mirror has no entry, `current` in the store does.
   */
  async get(key: string): Promise<ClientDocument | null> {
    this.assertOpen();
    const wanted = documentKey(key);
    let revision: string | null = null;
    let fromMirror = false;
    if (this.feed?.readable) {
      try {
        revision = (await this.feed.mirror([wanted])).get(wanted) ?? null;
        fromMirror = revision !== null && isRevision(revision);
        if (!fromMirror) revision = null;
      } catch {
        // Redis went away mid-read: the store answers instead.
      }
    }
    revision ??= await this.currentRevision(wanted);
    if (!revision) return null;
    let stored = await this.getRevision(wanted, revision);
    if (!stored && fromMirror) {
      // A mirror naming a revision the store lacks is wrong (a reset, a bad write): trust the store.
      revision = await this.currentRevision(wanted);
      if (!revision) return null;
      stored = await this.getRevision(wanted, revision);
    }
    if (!stored) throw new StaticsError('store', `${wanted}: current names revision ${revision}, which is not stored in ${this.description}`);
    return { key: wanted, ...stored };
  }

  /** The latest document parsed as JSON (structured documents are stored as canonical JSON), or null. */
  async getJson<T = unknown>(key: string): Promise<T | null> {
    const document = await this.get(key);
    if (!document) return null;
    try {
      return JSON.parse(document.bytes.toString('utf8')) as T;
    } catch (error) {
      throw new StaticsError('parse', `${document.key} (${document.mediaType}) is not JSON: ${messageOf(error)}`);
    }
  }

  /** A stored revision (a full sha256), or null when the store does not have it. Cached. */
  async getRevision(key: string, revision: string): Promise<StoredRevision | null> {
    this.assertOpen();
    const wanted = documentKey(key);
    if (!isRevision(revision)) throw new StaticsError('usage', `"${revision}" is not a revision: expected a lowercase hex sha256`);
    return this.cache.get(wanted, revision, () => this.store.getRevision(wanted, revision));
  }

  /** The moves of the document's `current`, newest first. */
  async history(key: string): Promise<Transition[]> {
    this.assertOpen();
    return this.store.history(documentKey(key));
  }

  /**
   * Calls `handler` for every change of a document whose key starts with `prefix` (e.g.
   * `payments/` or `payments/flags/`; '' for all), one at a time, in order per document, each
   * once, never with a revision older than one already delivered for that document. Survives
   * Redis reconnects and restarts; without Redis it polls the store. See docs/reading.md.
   */
  watch(prefix: string, handler: WatchHandler, options: WatchOptions = {}): Watch {
    this.assertOpen();
    const watcher = new Watcher(normalizePrefix(prefix), handler, { onNotice: this.options.onNotice, ...options }, {
      store: this.store,
      feed: this.feed,
      pollIntervalMs: this.options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
      startTimeoutMs: this.options.connectTimeoutMs ?? 3_000,
      retryMs: Math.max(50, this.options.reconnect?.minMs ?? 100) * 2,
      closed: (done) => this.watches.delete(done),
    });
    this.watches.add(watcher);
    return watcher;
  }

  /** Revisions served from the cache (memory or disk) and fetched from the store. */
  cacheStats(): { hits: number; misses: number } {
    return { hits: this.cache.hits, misses: this.cache.misses };
  }

  /** Ends every watch, disconnects from Redis and closes the store (if the client opened it). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.watches].map((watch) => watch.close()));
    await this.feed?.close();
    if (this.ownsStore) await this.store.close();
  }

  private async currentRevision(key: string): Promise<string | null> {
    return (await this.store.readCurrent([key])).get(key)?.revision ?? null;
  }

  private assertOpen(): void {
    if (this.closed) throw new StaticsError('usage', 'the statics client is closed');
  }
}

/** The store a reader needs; `s3` options reach the S3 client (the CLI's openStore takes only the endpoint). */
async function openReaderStore(url: string, s3: ClientOptions['s3']): Promise<RevisionStore> {
  if (url.startsWith('file://')) {
    const location = url.slice('file://'.length);
    if (!location) throw new StaticsError('config', `store "${url}" names no directory`);
    const root = url.startsWith('file:///') ? fileURLToPath(url) : path.resolve(location);
    return new LocalStore(root, url);
  }
  if (url.startsWith('s3://')) {
    // Loaded on demand, as in backends.ts: the AWS SDK is slow to load.
    const { S3Store, parseS3Url } = await import('../store/s3.js');
    return new S3Store({ ...parseS3Url(url), endpoint: s3?.endpoint, region: s3?.region, credentials: s3?.credentials });
  }
  throw new StaticsError('config', `store "${url}" must start with file:// or s3://`);
}
