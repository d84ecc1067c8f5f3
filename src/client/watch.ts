/**
 * A watch: every change under a prefix, delivered once, in order per document, never going back.
 *
 * Order comes from the stream: entries are delivered in stream-id order and an id at or before
 * the watch's position is never delivered again. While the subscription is up, pub/sub carries
 * the entries; after any reconnect the watch reads the stream from its position (XREAD) before
 * taking messages again, so a disconnect loses nothing.
 *
 * When the stream cannot be continued (the entry at the position is gone: trimmed, or Redis
 * restarted empty; or Redis's run_id changed), the watch re-syncs from the store, the source of
 * truth, and delivers what differs from what it has delivered. Such a read is not ordered against
 * the stream, so it is bracketed: `lo` = the newest entry before it, `hi` = after it. Entries up to
 * `lo` are reflected in what was read (their writer moved `current` before recording them);
 * entries after `hi` are newer than it (a document's next write waits for the lock, released only
 * after the previous one was recorded). Documents with entries in between are read again, with a
 * new bracket, until no entry falls in one. From `hi` on, an entry is delivered when its revision
 * differs from the one delivered last for its document; one that only repeats it is skipped.
 *
 * While Redis is unreachable the watch polls the store; anything found that way breaks the
 * ordering against the stream, so the stream is resumed with a re-sync.
 */
import type { RevisionStore } from '../store/types.js';
import { messageOf } from '../errors.js';
import { compareStreamIds, isStreamId, stateOf, STREAM_START, type DeliverySource, type StreamEntry, type WatchEvent } from './events.js';
import type { ChangeFeed, FeedListener } from './feed.js';
import { readStates, readStoreState, type DocumentState } from './snapshot.js';
import { StaticsError } from '../errors.js';

export interface WatchOptions {
  /**
   * Where the stream is read from: `now` (default: changes after the watch started), `start`
   * (everything the capped stream retains), or a stream id from an earlier watch's `position`
   * (resume after it; pass that watch's `known` too).
   */
  from?: 'now' | 'start' | string;
  /**
   * With `from` a stream id: the Redis run_id it was read under (an earlier watch's `runId`).
   * When Redis's run_id differs now, it restarted since, and what it lost is read from the store.
   */
  runId?: string;
  /**
   * First deliver every document under the prefix whose revision differs from `known` (source
   * `snapshot`), then follow the stream from there (`from` is then ignored).
   */
  snapshot?: boolean;
  /** Revisions the caller already has (null: known absent). Changes are judged against them. */
  known?: ReadonlyMap<string, string | null>;
  /** Store polling while Redis is unreachable; default: the client's. */
  pollIntervalMs?: number;
  /** Connection trouble, re-syncs and the like, one line each. */
  onNotice?: (notice: WatchNotice) => void;
  /** Messages queued behind a slow handler before they are dropped and read from the stream instead. Default 10,000. */
  maxBacklog?: number;
}

export interface WatchNotice {
  level: 'info' | 'warn';
  message: string;
}

export interface DeliveryContext {
  source: DeliverySource;
}

/** Called once per change, one at a time; a change is delivered again only if this throws (which ends the watch). */
export type WatchHandler = (event: WatchEvent, context: DeliveryContext) => void | Promise<void>;

export interface WatchStats {
  /** Changes handed to the handler. */
  delivered: number;
  /** Stream changes that came through pub/sub. */
  live: number;
  /** Stream changes read from the stream to catch up (after a reconnect or at start). */
  caughtUp: number;
  /** Stream entries for documents already at that revision. */
  skipped: number;
  /** Subscriptions taken up (1 + reconnects). */
  subscriptions: number;
  /** Re-syncs from the store after the stream could not be continued. */
  resyncs: number;
  /** Polls of the store. */
  polls: number;
}

export interface Watch {
  readonly prefix: string;
  /** Settles once the watch is following changes (stream caught up, or the store read once). */
  readonly ready: Promise<void>;
  /** Settles when the watch ends: resolves after close(), rejects with the handler's error. */
  readonly done: Promise<void>;
  /**
   * The stream id up to which the delivered state is exactly that of the stream, to resume a
   * later watch from (with `known`); null while that does not hold (before the first sync, or
   * after changes found by polling until the next re-sync).
   */
  readonly position: string | null;
  /** The revision last delivered (or given in `known`) per document; null: absent. */
  readonly known: ReadonlyMap<string, string | null>;
  /** Redis's run_id when `position` was read (undefined where INFO is not allowed), to resume with. */
  readonly runId: string | undefined;
  readonly stats: Readonly<WatchStats>;
  close(): Promise<void>;
}

/** What a watch needs from its client. */
export interface WatchContext {
  store: RevisionStore;
  feed: ChangeFeed | null;
  pollIntervalMs: number;
  /** How long to wait for Redis at start before reading the store instead. */
  startTimeoutMs: number;
  /** Delay before trying again to continue the stream after a failed read. */
  retryMs: number;
  closed(watch: Watcher): void;
}

type Item =
  | { kind: 'subscribing'; acked: Promise<void> }
  | { kind: 'message'; entry: StreamEntry }
  | { kind: 'down'; reason: string }
  | { kind: 'poll' }
  | { kind: 'start-timeout' };

/** Entries read per XREAD/XRANGE. */
const BATCH = 500;
const MAX_BACKLOG = 10_000;
/** Bracketed re-reads of a re-sync before continuing anyway (only hot documents keep it going). */
const MAX_ROUNDS = 8;

/** A handler's error, carried out of the loop to end the watch. */
class HandlerFailure {
  constructor(readonly error: unknown) {}
}

export class Watcher implements Watch {
  readonly prefix: string;
  readonly ready: Promise<void>;
  readonly done: Promise<void>;
  readonly stats: WatchStats = { delivered: 0, live: 0, caughtUp: 0, skipped: 0, subscriptions: 0, resyncs: 0, polls: 0 };

  private readonly knownState: Map<string, string | null>;
  private readonly queue: Item[] = [];
  private wake: (() => void) | undefined;
  private closing = false;
  private finished = false;
  private live = false;
  /** The id of the last stream entry consumed; null before the stream was first read. */
  private streamPosition: string | null = null;
  /** key|revision|at of that entry, to tell it from a different entry with the same id (after a reset). */
  private fingerprint: string | undefined;
  private serverRunId: string | undefined;
  private started = false;
  private needResync = false;
  private resyncing = false;
  private syncFailures = 0;
  /** Orders drops of messages against stream reads: a message is delivered only after a read sent after the last drop. */
  private sequence = 0;
  private droppedAt = -1;
  private readSentAt = 0;
  private catchUpQueued = false;
  private syncedSubscription: Promise<void> | undefined;
  private readonly silentBaseline: boolean;
  private readonly pollIntervalMs: number;
  private pollTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private startTimer: NodeJS.Timeout | undefined;
  private unlisten: (() => void) | undefined;
  private resolveReady!: () => void;
  private rejectReady!: (error: unknown) => void;

  constructor(
    prefix: string,
    private readonly handler: WatchHandler,
    private readonly options: WatchOptions,
    private readonly context: WatchContext,
  ) {
    this.prefix = prefix;
    const from = options.from ?? 'now';
    if (from !== 'now' && from !== 'start' && !isStreamId(from)) {
      throw new StaticsError('usage', `watch: "from" must be now, start or a stream id such as 1700000000000-0, not "${from}"`);
    }
    this.knownState = new Map(options.known ?? []);
    this.silentBaseline = !options.snapshot && options.known === undefined;
    this.pollIntervalMs = options.pollIntervalMs ?? context.pollIntervalMs;
    this.ready = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => {});
    this.done = this.run();
    this.done.catch(() => {});

    const feed = context.feed;
    if (!feed) {
      this.enqueue({ kind: 'poll' });
      return;
    }
    this.unlisten = feed.listen(this.listener());
    // Redis refusing or not answering at start: read the store now rather than wait.
    void feed.whenReadable(context.startTimeoutMs).then((readable) => {
      if (!readable) this.enqueue({ kind: 'start-timeout' });
    });
    this.startTimer = setTimeout(() => this.enqueue({ kind: 'start-timeout' }), context.startTimeoutMs);
  }

  get position(): string | null {
    return this.needResync || this.resyncing ? null : this.streamPosition;
  }

  get known(): ReadonlyMap<string, string | null> {
    return new Map(this.knownState);
  }

  get runId(): string | undefined {
    return this.serverRunId;
  }

  async close(): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      this.stopTimers();
      this.unlisten?.();
      this.wake?.();
    }
    await this.done.catch(() => {});
  }

  private listener(): FeedListener {
    return {
      subscribing: (acked) => this.enqueue({ kind: 'subscribing', acked }),
      down: (reason) => this.enqueue({ kind: 'down', reason }),
      message: (entry) => {
        if (this.queue.length < (this.options.maxBacklog ?? MAX_BACKLOG)) {
          this.enqueue({ kind: 'message', entry });
          return;
        }
        // Too far behind: drop it, and read the stream once the handler has caught up. Until a
        // read sent after this drop, no message may be delivered (it would skip this one).
        this.droppedAt = ++this.sequence;
        if (this.catchUpQueued) return;
        const acked = this.context.feed?.currentSubscription();
        if (!acked) return;
        this.catchUpQueued = true;
        this.enqueue({ kind: 'subscribing', acked });
      },
    };
  }

  private enqueue(item: Item): void {
    if (this.closing) return;
    this.queue.push(item);
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private async run(): Promise<void> {
    // Let the constructor finish before the first item is handled.
    await Promise.resolve();
    try {
      while (!this.closing) {
        const item = this.queue.shift();
        if (!item) {
          await new Promise<void>((resolve) => (this.wake = resolve));
          continue;
        }
        await this.handle(item);
      }
    } catch (error) {
      const cause = error instanceof HandlerFailure ? error.error : error;
      this.finish();
      this.rejectReady(cause);
      throw cause;
    }
    this.finish();
    this.rejectReady(new StaticsError('usage', 'the watch was closed before it was ready'));
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.closing = true;
    this.stopTimers();
    this.unlisten?.();
    this.queue.length = 0;
    this.context.closed(this);
  }

  private stopTimers(): void {
    clearTimeout(this.pollTimer);
    clearTimeout(this.retryTimer);
    clearTimeout(this.startTimer);
    this.pollTimer = this.retryTimer = this.startTimer = undefined;
  }

  private async handle(item: Item): Promise<void> {
    switch (item.kind) {
      case 'message':
        if (this.live && this.droppedAt < this.readSentAt) await this.consume(item.entry, 'live');
        return;
      case 'subscribing':
        return this.onSubscribed(item.acked);
      case 'down':
        if (this.live) this.notice('warn', `lost the change feed at ${this.context.feed?.description} (${item.reason}); polling ${this.context.store.description} every ${seconds(this.pollIntervalMs)} until it is back`);
        this.live = false;
        this.schedulePoll(this.pollIntervalMs);
        return;
      case 'start-timeout':
        if (!this.started && !this.live) {
          const why = this.context.feed?.lastError ? `: ${this.context.feed.lastError}` : '';
          this.notice('warn', `no answer from Redis at ${this.context.feed?.description}${why}; reading ${this.context.store.description} until it answers`);
          await this.poll();
        }
        return;
      case 'poll':
        this.pollTimer = undefined;
        if (!this.live) await this.poll();
        return;
    }
  }

  private async onSubscribed(acked: Promise<void>): Promise<void> {
    const feed = this.context.feed!;
    try {
      await acked;
    } catch {
      return; // A 'down' follows, then a new subscription.
    }
    // A newer subscription is queued behind this one: it will do the work.
    if (feed.currentSubscription() !== acked) return;
    try {
      this.catchUpQueued = false;
      await feed.whenReadable(this.context.startTimeoutMs);
      await this.syncStream();
      this.live = true;
      if (this.syncedSubscription !== acked) this.stats.subscriptions++;
      this.syncedSubscription = acked;
      clearTimeout(this.pollTimer);
      this.pollTimer = undefined;
      this.markStarted();
    } catch (error) {
      if (error instanceof HandlerFailure) throw error;
      this.live = false;
      // Said once per run of failures; retried with backoff up to the poll interval.
      if (this.syncFailures === 0) this.notice('warn', `cannot follow the change feed yet: ${messageOf(error)}; trying again`);
      const delay = Math.min(this.context.retryMs * 2 ** Math.min(this.syncFailures, 10), Math.max(this.pollIntervalMs, this.context.retryMs));
      this.syncFailures++;
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => {
        const current = feed.currentSubscription();
        if (current) this.enqueue({ kind: 'subscribing', acked: current });
      }, delay);
      this.schedulePoll(this.started ? this.pollIntervalMs : 0);
      return;
    }
    this.syncFailures = 0;
  }

  /** Brings the watch to the end of the stream: catch up from its position, or re-sync. */
  private async syncStream(): Promise<void> {
    const feed = this.context.feed!;
    const runId = await feed.runId();
    if (runId !== undefined) {
      // Known from an earlier connection, or for a position handed in from an earlier watch.
      const before = this.streamPosition !== null ? this.serverRunId : this.options.from && isStreamId(this.options.from) ? this.options.runId : undefined;
      if (before !== undefined && runId !== before) {
        this.needResync = true;
        this.notice('warn', `Redis at ${feed.description} restarted; changes it lost are read from ${this.context.store.description}`);
      }
      this.serverRunId = runId;
    }
    if (this.streamPosition === null && !this.needResync) {
      // The first time: where to begin.
      const from = this.options.from ?? 'now';
      if (this.options.snapshot) return this.resync('snapshot');
      if (from === 'now') {
        const last = await feed.lastEntry();
        this.streamPosition = last?.id ?? STREAM_START;
        this.fingerprint = fingerprintOf(last);
      } else if (from === 'start') {
        this.streamPosition = STREAM_START;
      } else if (from === STREAM_START) {
        // Nothing was in the stream then: everything in it now is new (a restart shows in the run_id).
        this.streamPosition = STREAM_START;
      } else {
        const entry = await feed.entryAt(from);
        if (!entry) {
          this.notice('warn', `stream entry ${from} is gone (trimmed, or Redis restarted); re-syncing from ${this.context.store.description}`);
          return this.resync('resync');
        }
        this.streamPosition = from;
        this.fingerprint = fingerprintOf(entry);
      }
      return this.catchUp();
    }
    if (this.needResync) return this.resync('resync');
    if (this.streamPosition !== null && this.streamPosition !== STREAM_START) {
      const entry = await feed.entryAt(this.streamPosition);
      if (!entry || (this.fingerprint !== undefined && fingerprintOf(entry) !== this.fingerprint)) {
        this.notice('warn', `fell off the stream at ${this.streamPosition} (trimmed, or Redis restarted); re-syncing from ${this.context.store.description}`);
        return this.resync('resync');
      }
    }
    return this.catchUp();
  }

  private async catchUp(): Promise<void> {
    const feed = this.context.feed!;
    for (;;) {
      const sent = ++this.sequence;
      const entries = await feed.readAfter(this.streamPosition ?? STREAM_START, BATCH);
      if (entries.length < BATCH) this.readSentAt = sent;
      for (const entry of entries) {
        if (this.closing) return;
        await this.consume(entry, 'catch-up');
      }
      if (entries.length < BATCH) return;
    }
  }

  /** One stream entry: delivered unless already consumed or a repeat of the revision delivered. */
  private async consume(entry: StreamEntry, via: 'live' | 'catch-up'): Promise<void> {
    if (this.streamPosition !== null && compareStreamIds(entry.id, this.streamPosition) <= 0) return;
    const event = entry.event;
    if (event && event.key.startsWith(this.prefix)) {
      const state = stateOf(event);
      if (this.knownState.has(event.key) && this.knownState.get(event.key) === state) {
        this.stats.skipped++;
      } else {
        await this.deliver({ ...event, stream: entry.id }, 'stream');
        if (via === 'live') this.stats.live++;
        else this.stats.caughtUp++;
      }
    }
    // Advanced only once handled, so a saved position never runs ahead of what was delivered.
    this.streamPosition = entry.id;
    this.fingerprint = fingerprintOf(entry);
  }

  /** Re-reads the store (bracketed by stream positions, see the top of this file), then catches up. */
  private async resync(source: 'snapshot' | 'resync'): Promise<void> {
    const feed = this.context.feed!;
    const store = this.context.store;
    this.resyncing = true;
    // Until it completes, what was delivered is not the state at any stream position.
    this.needResync = true;
    try {
      let lo = await feed.lastEntry();
      const states = await readStoreState(store, this.prefix, this.knownState, (keys) => feed.mirror(keys));
      let hi = await feed.lastEntry();
      let changed = await this.applyStates(states, null, source);
      for (let round = 0; round < MAX_ROUNDS && hi && hi.id !== lo?.id && !this.closing; round++) {
        const touched = await this.touchedKeys(lo?.id ?? STREAM_START, hi.id);
        if (touched.length === 0) break;
        lo = hi;
        const again = await readStates(store, touched);
        hi = await feed.lastEntry();
        changed += await this.applyStates(again, touched, source);
      }
      if (this.closing) return;
      this.streamPosition = hi?.id ?? STREAM_START;
      this.fingerprint = fingerprintOf(hi);
      this.needResync = false;
      if (source === 'resync') {
        this.stats.resyncs++;
        this.notice('info', `re-synced from ${store.description}: ${changed} document${changed === 1 ? '' : 's'} changed`);
      }
    } finally {
      this.resyncing = false;
    }
    await this.catchUp();
  }

  /** Keys under the prefix with entries in (after, upTo]. */
  private async touchedKeys(after: string, upTo: string): Promise<string[]> {
    const feed = this.context.feed!;
    const keys = new Set<string>();
    let cursor = after;
    for (;;) {
      const entries = await feed.range(cursor, upTo, BATCH);
      for (const entry of entries) if (entry.event?.key.startsWith(this.prefix)) keys.add(entry.event.key);
      if (entries.length < BATCH) break;
      cursor = entries[entries.length - 1]!.id;
    }
    return [...keys];
  }

  /** Reads the store while the stream cannot be followed. */
  private async poll(): Promise<void> {
    if (this.closing) return;
    this.stats.polls++;
    const feed = this.context.feed;
    let states: Map<string, DocumentState>;
    try {
      // No mirror lookups: polling means Redis is away or not answering.
      states = await readStoreState(this.context.store, this.prefix, this.knownState);
    } catch (error) {
      this.notice('warn', `cannot read ${this.context.store.description}: ${messageOf(error)}; trying again in ${seconds(this.pollIntervalMs)}`);
      this.schedulePoll(this.pollIntervalMs);
      return;
    }
    if (!this.started && this.silentBaseline) {
      // Changes from now on: what is there now is the baseline, not a change.
      for (const [key, state] of states) this.knownState.set(key, state.revision);
    } else {
      await this.applyStates(states, null, !this.started && this.options.snapshot ? 'snapshot' : 'poll');
    }
    // Whatever the stream says next has to be put in order against this read.
    if (this.streamPosition === null && feed) this.needResync = true;
    this.markStarted();
    if (!this.live) this.schedulePoll(this.pollIntervalMs);
  }

  /**
   * Delivers what differs between `states` and what was delivered: for `keys` (null: every key
   * under the prefix, so known documents missing from `states` were deleted). Returns how many.
   */
  private async applyStates(states: Map<string, DocumentState | null>, keys: readonly string[] | null, source: DeliverySource): Promise<number> {
    let scope: string[];
    if (keys) {
      scope = [...keys];
    } else {
      const all = new Set<string>(states.keys());
      for (const [key, revision] of this.knownState) if (revision !== null && key.startsWith(this.prefix)) all.add(key);
      scope = [...all];
    }
    scope.sort();
    const at = new Date().toISOString();
    let changed = 0;
    for (const key of scope) {
      if (this.closing) break;
      const state = states.get(key) ?? null;
      const have = this.knownState.get(key);
      if (state === null) {
        if (!have) continue;
        await this.deliver({ version: 1, key, action: 'delete', revision: null, previous: have, at }, source);
      } else {
        if (have === state.revision) continue;
        const event: WatchEvent = { version: 1, key, action: 'update', revision: state.revision, previous: have ?? null, at: state.at ?? at };
        if (state.commit) event.commit = state.commit;
        await this.deliver(event, source);
      }
      changed++;
    }
    return changed;
  }

  private async deliver(event: WatchEvent, source: DeliverySource): Promise<void> {
    // Found by polling: the stream position no longer describes what was delivered.
    if (source === 'poll' && this.context.feed) this.needResync = true;
    try {
      await this.handler(event, { source });
    } catch (error) {
      throw new HandlerFailure(error);
    }
    this.knownState.set(event.key, stateOf(event));
    this.stats.delivered++;
  }

  private markStarted(): void {
    if (this.started) return;
    this.started = true;
    clearTimeout(this.startTimer);
    this.startTimer = undefined;
    this.resolveReady();
  }

  private schedulePoll(delay: number): void {
    if (this.pollTimer || this.closing) return;
    this.pollTimer = setTimeout(() => this.enqueue({ kind: 'poll' }), delay);
  }

  private notice(level: WatchNotice['level'], message: string): void {
    try {
      this.options.onNotice?.({ level, message });
    } catch {
      // A notice is advice; a failing logger must not stop the watch.
    }
  }
}

function fingerprintOf(entry: StreamEntry | null): string | undefined {
  if (!entry) return undefined;
  const event = entry.event;
  return event ? `${event.key}|${event.revision ?? '-'}|${event.at}` : '(not an event)';
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
