/**
 * The reader library against a real redis-server and s3rver: many watchers, killed connections,
 * a trimmed stream, a Redis restart, no Redis at all, and the cached read path.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { StaticsClient, type ClientOptions } from '../../src/client/index.js';
import type { DeliverySource, Watch, WatchEvent } from '../../src/client/index.js';
import type { ChangeEvent } from '../../src/coord/types.js';
import { RedisCoordinator, mirrorKey } from '../../src/coord/redis.js';
import { LocalStore } from '../../src/store/local.js';
import { S3Store } from '../../src/store/s3.js';
import { nextTransitions, type CurrentRecord, type RevisionStore } from '../../src/store/types.js';
import { freePort, startRedis, type TestRedis } from '../support/redis.js';
import { startS3, type TestS3 } from '../support/s3.js';

let s3: TestS3;
let redis: TestRedis;
let admin: Redis;
const BUCKET = 'reader-tests';
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  [s3, redis] = await Promise.all([startS3(), startRedis()]);
  await s3.createBucket(BUCKET);
  admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  admin.on('error', () => {});
});
afterEach(async () => {
  redis.resume();
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});
afterAll(async () => {
  admin?.disconnect();
  await Promise.all([s3?.stop(), redis?.stop()]);
});

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, probe: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * A writer doing what apply does per document (revision, current, then mirror + stream + publish),
 * without the plan. With `s3: false` only the Redis side is written: for the volume tests, where
 * watchers read nothing from the store and s3rver's ~50 ms per change would dominate.
 */
class Writer {
  readonly records = new Map<string, CurrentRecord | null>();
  /** Every revision `current` took, per key, in order (null: deleted). */
  readonly history = new Map<string, Array<string | null>>();

  constructor(readonly store: RevisionStore | null, readonly coord: RedisCoordinator | null) {}

  async update(key: string, content: string, options: { record?: boolean } = {}): Promise<string> {
    const bytes = Buffer.from(content);
    const revision = sha256(bytes);
    const expected = this.records.get(key) ?? null;
    const at = new Date().toISOString();
    const transition = { revision, previous: expected?.revision ?? null, at, action: 'apply' as const };
    await this.store?.putRevision(key, revision, bytes, { mediaType: 'text/plain', size: bytes.length }, {});
    await this.store?.setCurrent(key, transition, expected);
    this.records.set(key, { revision, transitions: nextTransitions(transition, expected) });
    this.push(key, revision);
    if (options.record !== false) await this.record({ version: 1, key, action: 'update', revision, previous: transition.previous, at });
    return revision;
  }

  async remove(key: string): Promise<void> {
    const expected = this.records.get(key)!;
    const at = new Date().toISOString();
    const transition = { revision: null, previous: expected.revision, at, action: 'delete' as const };
    await this.store?.deleteCurrent(key, transition, expected);
    this.records.set(key, null);
    this.push(key, null);
    await this.record({ version: 1, key, action: 'delete', revision: null, previous: expected.revision, at });
  }

  /** Retried while the coordinator reconnects (after a Redis restart), as a re-run of apply would. */
  private async record(event: ChangeEvent): Promise<void> {
    if (!this.coord) return;
    for (let attempt = 0; ; attempt++) {
      try {
        const lock = await this.coord.acquire(event.key, { operation: 'test writer', timeoutMs: 2_000 });
        try {
          return await lock.recordAndRelease(event, this.records.get(event.key) ?? null);
        } finally {
          await lock.release().catch(() => {});
        }
      } catch (error) {
        if (attempt > 100) throw error;
        await sleep(50);
      }
    }
  }

  private push(key: string, revision: string | null): void {
    const list = this.history.get(key) ?? [];
    list.push(revision);
    this.history.set(key, list);
  }

  /** The latest revision of every document written (deleted ones left out). */
  state(): Map<string, string> {
    const result = new Map<string, string>();
    for (const [key, record] of this.records) if (record) result.set(key, record.revision);
    return result;
  }
}

let counter = 0;

/** A fresh store prefix and Redis namespace, so tests share nothing. */
async function setup(options: { redis?: boolean; s3?: boolean } = {}) {
  const name = `t${++counter}-${randomBytes(3).toString('hex')}`;
  const storeUrl = `s3://${BUCKET}/${name}`;
  const s3Options = { endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials };
  const store = new S3Store({ bucket: BUCKET, prefix: name, ...s3Options });
  const namespace = `${name}:`;
  const coord = options.redis === false ? null : await RedisCoordinator.connect({ url: redis.url, namespace, lockTtlMs: 10_000 });
  cleanups.push(async () => {
    await coord?.close();
    await store.close();
  });
  const writer = new Writer(options.s3 === false ? null : store, coord);
  const open = async (extra: Partial<ClientOptions> = {}): Promise<StaticsClient> => {
    const client = await StaticsClient.open({ store: storeUrl, s3: s3Options, redisUrl: redis.url, namespace, ...extra });
    cleanups.push(() => client.close());
    return client;
  };
  return { name, namespace, store, writer, open };
}

interface Received {
  event: WatchEvent;
  source: DeliverySource;
}

function collector(): { received: Received[]; handler: (event: WatchEvent, context: { source: DeliverySource }) => void } {
  const received: Received[] = [];
  return { received, handler: (event, context) => void received.push({ event, source: context.source }) };
}

function revisionsByKey(received: readonly Received[]): Map<string, Array<string | null>> {
  const byKey = new Map<string, Array<string | null>>();
  for (const { event } of received) {
    const list = byKey.get(event.key) ?? [];
    list.push(event.revision);
    byKey.set(event.key, list);
  }
  return byKey;
}

/** Kills this client's two connections from the server side. */
async function killClients(name: string): Promise<number> {
  const list = (await admin.client('LIST')) as string;
  let killed = 0;
  for (const line of list.split('\n')) {
    const id = /\bid=(\d+)/.exec(line)?.[1];
    const connection = /\bname=(\S*)/.exec(line)?.[1];
    if (id && (connection === name || connection === `${name}:feed`)) {
      await admin.client('KILL', 'ID', id);
      killed++;
    }
  }
  return killed;
}

/** Each delivered sequence must follow the written history forward (a subsequence, never going back). */
function expectForwardOnly(delivered: Map<string, Array<string | null>>, written: Map<string, Array<string | null>>): void {
  for (const [key, revisions] of delivered) {
    const history = written.get(key) ?? [];
    let at = -1;
    for (const revision of revisions) {
      const next = history.findIndex((candidate, index) => index > at && candidate === revision);
      expect(next, `${key}: ${revision} delivered out of order`).toBeGreaterThan(at);
      at = next;
    }
  }
}

describe('watch', () => {
  it('delivers 500 changes to each of 20 watchers exactly once, in order per document', async () => {
    const { writer, open } = await setup({ s3: false });
    const clients = await Promise.all(Array.from({ length: 20 }, () => open()));
    const collected = clients.map(() => collector());
    const watches = clients.map((client, index) => client.watch('app/', collected[index]!.handler));
    await Promise.all(watches.map((watch) => watch.ready));

    const keys = Array.from({ length: 10 }, (_, index) => `app/flags/f${index}`);
    await Promise.all([
      ...keys.map(async (key) => {
        for (let version = 0; version < 50; version++) await writer.update(key, `${key} v${version}\n`);
      }),
      (async () => {
        // Outside the prefix: never delivered.
        for (let version = 0; version < 20; version++) await writer.update('other/flags/x', `x v${version}\n`);
      })(),
    ]);

    await until('every watcher to receive 500 changes', () => collected.every(({ received }) => received.length >= 500));
    await sleep(100);
    for (const [index, { received }] of collected.entries()) {
      expect(received, `watcher ${index}`).toHaveLength(500);
      expect(received.every(({ source }) => source === 'stream')).toBe(true);
      const byKey = revisionsByKey(received);
      expect([...byKey.keys()].sort()).toEqual(keys);
      for (const key of keys) expect(byKey.get(key), `watcher ${index}, ${key}`).toEqual(writer.history.get(key));
      // Each event chains from the one before it for its document.
      const last = new Map<string, string | null>();
      for (const { event } of received) {
        expect(event.previous).toBe(last.get(event.key) ?? null);
        last.set(event.key, event.revision);
      }
      expect(watches[index]!.stats.delivered).toBe(500);
    }
  });

  it('catches up on everything published while its connections were killed', async () => {
    const { writer, open } = await setup({ s3: false });
    // A slow reconnect, so that changes are surely published while it is away.
    const client = await open({ clientName: 'victim', reconnect: { minMs: 300, maxMs: 300 } });
    const { received, handler } = collector();
    const watch = client.watch('', handler);
    await watch.ready;

    const keys = ['svc/cfg/a', 'svc/cfg/b', 'svc/cfg/c', 'svc/cfg/d'];
    const write = async (from: number, to: number): Promise<void> => {
      for (let change = from; change < to; change++) await writer.update(keys[change % keys.length]!, `change ${change}\n`);
    };
    await write(0, 25);
    expect(await killClients('victim')).toBe(2);
    // Published while both connections are down (they come back after 300 ms).
    await write(25, 50);
    await until('the watcher to resubscribe', () => watch.stats.subscriptions >= 2);
    await write(50, 75);
    // Now only the subscription; the reads connection stays.
    const list = (await admin.client('LIST')) as string;
    const feedId = /id=(\d+)[^\n]*name=victim:feed/.exec(list)?.[1];
    expect(feedId).toBeDefined();
    await admin.client('KILL', 'ID', feedId!);
    await write(75, 100);

    await until('all 100 changes', () => received.length >= 100);
    await sleep(200);
    expect(received).toHaveLength(100);
    const byKey = revisionsByKey(received);
    for (const key of keys) expect(byKey.get(key)).toEqual(writer.history.get(key));
    const ids = received.map(({ event }) => event.stream!);
    expect(new Set(ids).size).toBe(100);
    expect(watch.stats.subscriptions).toBeGreaterThanOrEqual(3);
    // Some came from reading the stream after a reconnect, not from pub/sub.
    expect(watch.stats.caughtUp).toBeGreaterThan(0);
    expect(watch.stats.live).toBeGreaterThan(0);
    expect(watch.stats.resyncs).toBe(0);
  });

  it('reads the stream instead of queueing without bound behind a slow handler', async () => {
    const { writer, open } = await setup({ s3: false });
    const client = await open();
    const received: WatchEvent[] = [];
    const watch = client.watch('', async (event) => {
      received.push(event);
      await sleep(3);
    }, { maxBacklog: 5 });
    await watch.ready;
    await Promise.all(['q/r/a', 'q/r/b'].map(async (key) => {
      for (let change = 0; change < 60; change++) await writer.update(key, `${key} ${change}\n`);
    }));
    await until('120 changes', () => received.length >= 120);
    await sleep(100);
    expect(received).toHaveLength(120);
    for (const key of ['q/r/a', 'q/r/b']) expect(received.filter((event) => event.key === key).map((event) => event.revision)).toEqual(writer.history.get(key));
    // Some were dropped from the queue and read back from the stream.
    expect(watch.stats.caughtUp).toBeGreaterThan(0);
    expect(watch.stats.subscriptions).toBe(1);
  });

  it('resumes from a saved position, and re-syncs from the store when the stream was trimmed past it', async () => {
    const { writer, namespace, open } = await setup();
    const client = await open();
    const first = collector();
    const watch = client.watch('', first.handler, { snapshot: true });
    await watch.ready;
    await writer.update('a/b/one', 'one 1\n');
    await writer.update('a/b/two', 'two 1\n');
    await writer.update('a/b/gone', 'gone 1\n');
    await until('three changes', () => first.received.length === 3);
    const position = watch.position!;
    const known = watch.known;
    expect(position).toMatch(/^\d+-\d+$/);
    await watch.close();

    await writer.update('a/b/one', 'one 2\n');
    await writer.update('a/b/one', 'one 3\n');
    await writer.remove('a/b/gone');

    // The stream still holds everything after the position: exactly the missed changes.
    const resumed = collector();
    const second = client.watch('', resumed.handler, { from: position, known });
    await second.ready;
    expect(resumed.received.map(({ event, source }) => [event.key, event.revision, source])).toEqual([
      ['a/b/one', writer.history.get('a/b/one')![1], 'stream'],
      ['a/b/one', writer.history.get('a/b/one')![2], 'stream'],
      ['a/b/gone', null, 'stream'],
    ]);
    await second.close();

    // Trimmed to nothing: the watch cannot know what it missed from Redis, so it asks the store
    // and delivers the difference (the latest state, not the intermediate one).
    await writer.update('a/b/two', 'two 2\n');
    await writer.update('a/b/two', 'two 3\n');
    await writer.update('a/b/new', 'new 1\n');
    await admin.xtrim(`${namespace}statics:events`, 'MAXLEN', 0);
    const resynced = collector();
    const third = client.watch('', resynced.handler, { from: position, known });
    await third.ready;
    expect(resynced.received.map(({ event, source }) => [event.key, event.action, event.revision, source])).toEqual([
      ['a/b/gone', 'delete', null, 'resync'],
      ['a/b/new', 'update', writer.history.get('a/b/new')![0], 'resync'],
      ['a/b/one', 'update', writer.history.get('a/b/one')![2], 'resync'],
      ['a/b/two', 'update', writer.history.get('a/b/two')![2], 'resync'],
    ]);
    expect(resynced.received.find(({ event }) => event.key === 'a/b/two')!.event.previous).toBe(writer.history.get('a/b/two')![0]);
    expect(third.stats.resyncs).toBe(1);
    // And it follows the stream from there.
    await writer.update('a/b/one', 'one 4\n');
    await until('the live change', () => resynced.received.length === 5);
    expect(resynced.received[4]).toMatchObject({ source: 'stream', event: { key: 'a/b/one', revision: writer.history.get('a/b/one')![3] } });
  });

  it('after a Redis restart, reads the changes Redis lost from the store and never goes back', async () => {
    const { writer, open } = await setup();
    const client = await open({ reconnect: { minMs: 50, maxMs: 200 } });
    const { received, handler } = collector();
    const watch = client.watch('', handler, { snapshot: true });
    await watch.ready;
    const keys = ['r/s/a', 'r/s/b', 'r/s/c'];
    for (let version = 0; version < 3; version++) for (const key of keys) await writer.update(key, `${key} ${version}\n`);
    await until('nine changes', () => received.length === 9);

    // Written to S3, but its record dies with the Redis process.
    await writer.update('r/s/a', 'a lost\n', { record: false });
    await redis.restart();
    // Writes go on while the watcher reconnects and re-syncs, so some land during its read of the store.
    await Promise.all(
      ['r/s/b', 'r/s/c', 'r/s/d'].map(async (key) => {
        for (let version = 0; version < 6; version++) await writer.update(key, `${key} after restart ${version}\n`);
      }),
    );

    const expected = writer.state();
    await until('the watcher to match the store', () => [...expected].every(([key, revision]) => watch.known.get(key) === revision));
    expect(watch.stats.resyncs).toBeGreaterThanOrEqual(1);
    expectForwardOnly(revisionsByKey(received), writer.history);
    expect(received.some(({ source, event }) => source === 'resync' && event.key === 'r/s/a')).toBe(true);
    // Nothing is delivered twice in a row for a document.
    const byKey = revisionsByKey(received);
    for (const revisions of byKey.values()) {
      for (let i = 1; i < revisions.length; i++) expect(revisions[i]).not.toBe(revisions[i - 1]);
    }
  });

  it('polls the store when Redis is unreachable', async () => {
    const { writer, open } = await setup({ redis: false });
    await writer.update('p/q/r', 'first\n');
    const client = await open({ redisUrl: `redis://127.0.0.1:${await freePort()}`, connectTimeoutMs: 200, pollIntervalMs: 100 });
    expect(client.redisConnected).toBe(false);
    expect((await client.get('p/q/r'))?.bytes.toString()).toBe('first\n');

    const { received, handler } = collector();
    const watch = client.watch('p/', handler);
    await watch.ready;
    // From now on: what was there at the start is not a change.
    expect(received).toHaveLength(0);
    await writer.update('p/q/r', 'second\n');
    await writer.update('p/q/s', 'new\n');
    await until('two polled changes', () => received.length === 2);
    expect(received.map(({ event, source }) => [event.key, event.revision, event.previous, source])).toEqual([
      ['p/q/r', writer.history.get('p/q/r')![1], writer.history.get('p/q/r')![0], 'poll'],
      ['p/q/s', writer.history.get('p/q/s')![0], null, 'poll'],
    ]);
    expect(watch.position).toBeNull();
    expect(watch.stats.polls).toBeGreaterThan(1);
  });

  it('starts from the store while Redis does not answer, then takes up the stream', async () => {
    const { writer, open } = await setup();
    await writer.update('u/v/w', 'one\n');
    const { received, handler } = collector();
    redis.pause();
    let watch: Watch | undefined;
    try {
      const client = await open({ connectTimeoutMs: 300, commandTimeoutMs: 500, healthCheckMs: 200, pollIntervalMs: 100 });
      watch = client.watch('u/', handler, { snapshot: true });
      await watch.ready;
      expect(received.map(({ event, source }) => [event.key, event.revision, source])).toEqual([['u/v/w', writer.history.get('u/v/w')![0], 'snapshot']]);
      expect(watch.position).toBeNull();
    } finally {
      redis.resume();
    }
    await until('the watch to follow the stream', () => watch!.position !== null);
    await writer.update('u/v/w', 'two\n');
    await until('the streamed change', () => received.length === 2);
    expect(received[1]).toMatchObject({ source: 'stream', event: { revision: writer.history.get('u/v/w')![1], previous: writer.history.get('u/v/w')![0] } });
  });

  it('polls an embedded store', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'statics-reader-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const writer = new Writer(new LocalStore(root), null);
    await writer.update('l/m/n', 'one\n');
    const client = await StaticsClient.open({ store: `file://${root}`, pollIntervalMs: 100 });
    cleanups.push(() => client.close());
    const { received, handler } = collector();
    const watch = client.watch('', handler, { snapshot: true });
    await watch.ready;
    await writer.update('l/m/n', 'two\n');
    await until('two changes', () => received.length === 2);
    expect(received.map(({ event, source }) => [event.revision, source])).toEqual([
      [writer.history.get('l/m/n')![0], 'snapshot'],
      [writer.history.get('l/m/n')![1], 'poll'],
    ]);
    expect((await client.get('l/m/n'))?.bytes.toString()).toBe('two\n');
  });
});

describe('reading', () => {
  it('gets the latest document through the mirror key, caches revisions, and reads history', async () => {
    const { writer, namespace, open } = await setup();
    const first = await writer.update('d/e/f', '{"a":1}');
    const second = await writer.update('d/e/f', '{"a":2}');
    const client = await open();
    expect(client.redisConnected).toBe(true);

    const document = await client.get('d/e/f');
    expect(document).toMatchObject({ key: 'd/e/f', revision: second, mediaType: 'text/plain' });
    expect(await client.getJson('d/e/f')).toEqual({ a: 2 });

    // The revision is cached and the mirror key names it: a second read costs S3 nothing.
    const recorder = s3.record();
    expect((await client.get('d/e/f'))?.revision).toBe(second);
    expect(recorder.stop()).toEqual([]);

    expect((await client.getRevision('d/e/f', first))?.bytes.toString()).toBe('{"a":1}');
    expect(await client.getRevision('d/e/f', sha256('never written'))).toBeNull();
    expect((await client.history('d/e/f')).map((transition) => transition.revision)).toEqual([second, first]);
    expect(await client.get('d/e/missing')).toBeNull();
    await expect(client.get('not a key')).rejects.toThrow(/invalid document key/);

    // A mirror key naming a revision the store lacks is not trusted.
    await admin.set(mirrorKey(namespace, 'd/e/f'), sha256('bogus'));
    expect((await client.get('d/e/f'))?.revision).toBe(second);

    await writer.remove('d/e/f');
    expect(await client.get('d/e/f')).toBeNull();
  });

  it('keeps revisions in a disk cache across clients, checked against their digest', async () => {
    const { writer, open } = await setup();
    const revision = await writer.update('g/h/i', 'cached bytes\n');
    const cacheDir = await mkdtemp(path.join(tmpdir(), 'statics-cache-'));
    cleanups.push(() => rm(cacheDir, { recursive: true, force: true }));
    const first = await open({ cacheDir });
    expect((await first.getRevision('g/h/i', revision))?.bytes.toString()).toBe('cached bytes\n');
    await first.close();

    const second = await open({ cacheDir });
    const recorder = s3.record();
    expect((await second.getRevision('g/h/i', revision))?.bytes.toString()).toBe('cached bytes\n');
    expect(recorder.stop()).toEqual([]);
    expect(second.cacheStats()).toEqual({ hits: 1, misses: 0 });

    // A damaged copy is not served: it is fetched again.
    await writeFile(path.join(cacheDir, 'g/h/i', revision), 'tampered');
    const third = await open({ cacheDir });
    expect((await third.getRevision('g/h/i', revision))?.bytes.toString()).toBe('cached bytes\n');
    expect(third.cacheStats()).toEqual({ hits: 0, misses: 1 });
  });

  it('ends its watches on close', async () => {
    const { open } = await setup();
    const client = await open();
    const watch = client.watch('', () => {});
    await watch.ready;
    await client.close();
    await expect(watch.done).resolves.toBeUndefined();
    await expect(client.get('a/b/c')).rejects.toThrow(/closed/);
  });
});
