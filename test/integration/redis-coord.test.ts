/** The Redis coordinator against a real redis-server: locks, mirror, broadcast, URLs and failures. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CHANGES_CHANNEL, EVENTS_STREAM, RedisCoordinator, lockKey, mirrorKey, redactRedisUrl, type RedisCoordinatorOptions } from '../../src/coord/redis.js';
import type { ChangeEvent, Coordinator, HeldLock } from '../../src/coord/types.js';
import type { CurrentRecord } from '../../src/store/types.js';
import { StaticsError } from '../../src/errors.js';
import { freePort, startRedis, type TestRedis } from '../support/redis.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats(ajv);
const validateEvent = ajv.compile(JSON.parse(readFileSync(new URL('../../schemas/event.schema.json', import.meta.url), 'utf8')));

const PASSWORD = 'p@ss:w/rd %x';
const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let main: TestRedis;
let aux: TestRedis; // paused and restarted by some tests
let secured: TestRedis;
let raw: Redis;
const opened: RedisCoordinator[] = [];
const rawClients: Redis[] = [];

beforeAll(async () => {
  [main, aux, secured] = await Promise.all([startRedis(), startRedis(), startRedis({ password: PASSWORD })]);
  raw = rawClient(main.url);
});

afterEach(async () => {
  aux.resume();
  await Promise.all(opened.splice(0).map((coord) => coord.close()));
});

afterAll(async () => {
  await Promise.all(rawClients.map((client) => client.quit().catch(() => client.disconnect())));
  await Promise.all([main, aux, secured].map((redis) => redis?.stop()));
});

function rawClient(url: string): Redis {
  const client = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  rawClients.push(client);
  return client;
}

async function open(options: Partial<RedisCoordinatorOptions> = {}): Promise<RedisCoordinator> {
  const coord = await RedisCoordinator.connect({ url: main.url, lockTtlMs: 5_000, ...options });
  opened.push(coord);
  return coord;
}

async function failure(promise: Promise<unknown>): Promise<StaticsError> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error, 'expected a rejection').toBeInstanceOf(StaticsError);
  return error as StaticsError;
}

async function until<T>(probe: () => T | undefined | Promise<T | undefined>, ms = 3_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}

let counter = 0;
const freshKey = (): string => `app/lock/k${++counter}`;

/** What apply does once `current` moved: under the document's lock, record the change. */
async function recordChange(coord: Coordinator, event: ChangeEvent): Promise<void> {
  const lock = await coord.acquire(event.key, { operation: 'test', timeoutMs: 1_000 });
  try {
    await lock.recordAndRelease(event, event.revision ? { revision: event.revision, transitions: [] } : null);
  } finally {
    await lock.release();
  }
}

describe('names and URLs', () => {
  it('redacts passwords however the URL is written, and lays out keys by the contract', async () => {
    expect(redactRedisUrl('redis://user:s3cr%40t@cache.example:6380/2')).toBe('redis://user:***@cache.example:6380/2');
    expect(redactRedisUrl('rediss://:hunter2@cache.example')).toBe('rediss://:***@cache.example');
    expect(redactRedisUrl('redis://u:pa/ss@word@host:1')).toBe('redis://u:***@host:1');
    expect(redactRedisUrl('redis://onlysecret@host')).toBe('redis://***@host');
    expect(redactRedisUrl('redis://127.0.0.1:6379/0')).toBe('redis://127.0.0.1:6379/0');
    expect(lockKey('prod:', 'web/flags/checkout')).toBe('prod:lock:web:flags:checkout');
    expect(mirrorKey('', 'web/flags/checkout')).toBe('web:flags:checkout');

    const scheme = await failure(RedisCoordinator.connect({ url: 'http://user:hunter2@host', lockTtlMs: 1000 }));
    expect(scheme.code).toBe('config');
    expect(scheme.message).not.toContain('hunter2');
    expect((await failure(RedisCoordinator.connect({ url: 'redis://host/x', lockTtlMs: 1000 }))).code).toBe('config');
  });
});

describe('locks', () => {
  it('are exclusive: a second writer waits, gets the lock after release, and a third times out naming the holder', async () => {
    const [a, b] = await Promise.all([open(), open()]);
    const key = freshKey();
    const first = await a.acquire(key, { operation: 'apply A', timeoutMs: 1_000 });
    let acquired = false;
    const waiting = b.acquire(key, { operation: 'apply B', timeoutMs: 5_000 }).then((lock) => {
      acquired = true;
      return lock;
    });
    await sleep(300);
    expect(acquired).toBe(false);
    const releasedAt = Date.now();
    await first.release();
    await first.release(); // idempotent
    const second = await waiting;
    expect(Date.now() - releasedAt).toBeLessThan(1_000); // backoff is capped at 500 ms

    const started = Date.now();
    const timeout = await failure(a.acquire(key, { operation: 'apply C', timeoutMs: 300 }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(timeout.code).toBe('lock-timeout');
    expect(timeout.message).toContain(`held by apply B on ${hostname()}, pid ${process.pid}, since`);
    await second.assertHeld();
    await second.release();
  });

  it('are renewed while held, well past their TTL', async () => {
    const [a, b] = await Promise.all([open({ lockTtlMs: 500 }), open()]);
    const key = freshKey();
    const lock = await a.acquire(key, { operation: 'long apply', timeoutMs: 1_000 });
    await sleep(1_200);
    await lock.assertHeld();
    expect((await b.lockInfo(key))?.owner?.operation).toBe('long apply');
    expect((await failure(b.acquire(key, { operation: 'other', timeoutMs: 150 }))).code).toBe('lock-timeout');
    await lock.release();
    expect(await b.lockInfo(key)).toBeNull();
  });

  it('are lost by a stalled holder: assertHeld throws, and its release leaves the new holder alone', async () => {
    const [a, b] = await Promise.all([open({ lockTtlMs: 200 }), open()]);
    const key = freshKey();
    const stale = await a.acquire(key, { operation: 'stalled', timeoutMs: 1_000 });
    // A synchronous stall, like a long GC pause: no renewal can run, and the lock expires.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    const fresh = await b.acquire(key, { operation: 'successor', timeoutMs: 2_000 });
    const lost = await failure(stale.assertHeld());
    expect(lost.code).toBe('lock-lost');
    expect(lost.message).toContain(key);
    await stale.release();
    expect((await b.lockInfo(key))?.owner?.operation).toBe('successor');
    await fresh.assertHeld();
    await fresh.release();
  });

  it('notice a takeover before any renewal would: assertHeld throws and release spares the successor', async () => {
    const [a, b] = await Promise.all([open({ lockTtlMs: 10_000 }), open()]);
    const [key1, key2] = [freshKey(), freshKey()];
    const [old1, old2] = await Promise.all([key1, key2].map((key) => a.acquire(key, { operation: 'old', timeoutMs: 1_000 })));
    const taken: HeldLock[] = [];
    for (const key of [key1, key2]) {
      expect(await b.forceUnlock(key)).toBe(true);
      taken.push(await b.acquire(key, { operation: 'new', timeoutMs: 1_000 }));
    }
    // Released without noticing the takeover: compare-and-delete in Redis spares the successor.
    await old1!.release();
    expect((await b.lockInfo(key1))?.owner?.operation).toBe('new');
    expect((await failure(old2!.assertHeld())).code).toBe('lock-lost');
    await old2!.release();
    expect((await b.lockInfo(key2))?.owner?.operation).toBe('new');
    await Promise.all(taken.map((lock) => lock.release()));
    expect(await b.lockInfo(key1)).toBeNull();
  });

  it('refuse assertHeld when Redis answers too slowly to leave a safe lease, or not at all', async () => {
    // Answered after 2.2 s of a 3 s lease: under the ttl/3 margin, yet before the lock expires.
    const slow = await open({ url: aux.url, lockTtlMs: 3_000, commandTimeoutMs: 5_000 });
    const lock = await slow.acquire(freshKey(), { operation: 'slow', timeoutMs: 1_000 });
    aux.pause();
    setTimeout(() => aux.resume(), 2_200);
    const late = await failure(lock.assertHeld());
    expect(late.code).toBe('lock-lost');
    expect(late.message).toMatch(/answered after \d+ ms/);
    await lock.release();

    const silent = await open({ url: aux.url, lockTtlMs: 5_000, commandTimeoutMs: 300 });
    const other = await silent.acquire(freshKey(), { operation: 'silent', timeoutMs: 1_000 });
    aux.pause();
    const started = Date.now();
    const unconfirmed = await failure(other.assertHeld());
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(unconfirmed.code).toBe('lock-lost');
    expect(unconfirmed.message).toMatch(/cannot confirm the lock/);
    aux.resume();
    await other.release();
  });

  it('can be inspected and force-unlocked', async () => {
    const [a, b] = await Promise.all([open(), open()]);
    const key = freshKey();
    expect(await b.lockInfo(key)).toBeNull();
    const before = Date.now();
    const lock = await a.acquire(key, { operation: 'apply 1234', timeoutMs: 1_000 });
    const info = await b.lockInfo(key);
    expect(info?.key).toBe(key);
    expect(info?.owner).toMatchObject({ host: hostname(), pid: process.pid, operation: 'apply 1234' });
    expect(Date.parse(info!.owner!.since)).toBeGreaterThanOrEqual(before - 1_000);
    expect(info!.expiresInMs).toBeGreaterThan(4_000);
    expect(info!.expiresInMs).toBeLessThanOrEqual(5_000);
    // The stored value carries a token besides the owner.
    expect(JSON.parse((await raw.get(lockKey('', key)))!)).toMatchObject({ token: expect.stringMatching(/^[0-9a-f]{32}$/) });

    expect(await b.forceUnlock(key)).toBe(true);
    expect(await b.lockInfo(key)).toBeNull();
    expect(await b.forceUnlock(key)).toBe(false);
    expect((await failure(lock.assertHeld())).code).toBe('lock-lost');

    // A lock set by hand: shown without an owner, and removable.
    await raw.set(lockKey('', key), 'garbage');
    expect(await b.lockInfo(key)).toEqual({ key, owner: null, expiresInMs: null });
    expect(await b.forceUnlock(key)).toBe(true);
  });

  it('are released by close', async () => {
    const [a, b] = await Promise.all([open(), open()]);
    const key = freshKey();
    await a.acquire(key, { operation: 'closing', timeoutMs: 1_000 });
    await a.close();
    expect(await b.lockInfo(key)).toBeNull();
  });
});

describe('records of current', () => {
  const at = new Date().toISOString();
  const update = (key: string, name: string, previous: string | null = null): ChangeEvent => ({ version: 1, key, action: 'update', revision: sha(name), previous, at });
  const written = (name: string, previous: string | null = null): CurrentRecord => ({
    revision: sha(name),
    transitions: [{ revision: sha(name), previous, at, action: 'apply' }],
  });

  it('vouch for the last finished write to the next holder, and for nothing once a write began', async () => {
    const [a, b] = await Promise.all([open(), open()]);
    const key = freshKey();
    const first = await a.acquire(key, { operation: 'first', timeoutMs: 1_000 });
    expect(first.recorded).toBeUndefined();
    await first.assertHeld();
    await first.recordAndRelease(update(key, 'v1'), written('v1'));
    // Recorded and released in one step.
    expect(await raw.exists(lockKey('', key))).toBe(0);
    await first.release();

    const second = await b.acquire(key, { operation: 'second', timeoutMs: 1_000 });
    expect(second.recorded).toEqual(written('v1'));
    // A write begins (the lock is confirmed before `current` moves) and never gets recorded.
    await second.assertHeld();
    await second.release();
    const third = await a.acquire(key, { operation: 'third', timeoutMs: 1_000 });
    expect(third.recorded).toBeUndefined();

    // A recorded delete is known absence.
    await third.assertHeld();
    await third.recordAndRelease({ version: 1, key, action: 'delete', revision: null, previous: sha('v1'), at }, null);
    await third.release();
    const fourth = await b.acquire(key, { operation: 'fourth', timeoutMs: 1_000 });
    expect(fourth.recorded).toBeNull();
    await fourth.release();
    expect(await raw.pttl(`record:${key.replaceAll('/', ':')}`)).toBeGreaterThan(0);
  });

  it('are not kept by a writer whose lock was taken, though its change is still broadcast', async () => {
    const coord = await open();
    const key = freshKey();
    const lock = await coord.acquire(key, { operation: 'slow', timeoutMs: 1_000 });
    await raw.set(lockKey('', key), 'someone else');
    await lock.recordAndRelease(update(key, 'late'), written('late'));
    expect(await raw.get(mirrorKey('', key))).toBe(sha('late'));
    expect(await raw.exists(`record:${key.replaceAll('/', ':')}`)).toBe(0);
    expect(await raw.get(lockKey('', key))).toBe('someone else');
    await raw.del(lockKey('', key));
    const next = await coord.acquire(key, { operation: 'next', timeoutMs: 1_000 });
    expect(next.recorded).toBeUndefined();
    await next.release();
  });

  it('are not trusted after Redis restarts, even with its data kept (a snapshot may be older)', async () => {
    const durable = await startRedis({ persistent: true });
    try {
      const before = await open({ url: durable.url });
      const key = freshKey();
      const lock = await before.acquire(key, { operation: 'before', timeoutMs: 1_000 });
      await lock.assertHeld();
      await lock.recordAndRelease(update(key, 'v1'), written('v1'));
      await lock.release();
      expect((await before.acquire(key, { operation: 'check', timeoutMs: 1_000 })).recorded).toEqual(written('v1'));
      await before.close();

      await durable.restart();
      const after = await open({ url: durable.url });
      const check = rawClient(durable.url);
      expect(await check.hget(`record:${key.replaceAll('/', ':')}`, 'revision')).toBe(sha('v1'));
      await check.del(lockKey('', key));
      const untrusted = await after.acquire(key, { operation: 'after', timeoutMs: 1_000 });
      expect(untrusted.recorded).toBeUndefined();
      // Recorded again by this server process, it is trusted again.
      await untrusted.assertHeld();
      await untrusted.recordAndRelease(update(key, 'v2', sha('v1')), written('v2', sha('v1')));
      await untrusted.release();
      const trusted = await after.acquire(key, { operation: 'again', timeoutMs: 1_000 });
      expect(trusted.recorded).toEqual(written('v2', sha('v1')));
      await trusted.release();
    } finally {
      await Promise.all(opened.splice(0).map((coord) => coord.close()));
      await durable.stop();
    }
  });

  it('are neither trusted nor kept where an ACL refuses INFO to scripts; locks work as before', async () => {
    await raw.call('ACL', 'SETUSER', 'noinfo', 'on', '>secret', '~*', '&*', '+@all', '-info');
    const url = main.url.replace('redis://', 'redis://noinfo:secret@');
    const [coord, other] = await Promise.all([open({ url }), open({ url })]);
    const key = freshKey();
    const lock = await coord.acquire(key, { operation: 'no info', timeoutMs: 1_000 });
    expect(lock.recorded).toBeUndefined();
    expect((await failure(other.acquire(key, { operation: 'waits', timeoutMs: 100 }))).code).toBe('lock-timeout');
    await lock.assertHeld();
    await lock.recordAndRelease(update(key, 'v1'), written('v1'));
    await lock.release();
    expect(await raw.get(mirrorKey('', key))).toBe(sha('v1'));
    expect(await raw.exists(`record:${key.replaceAll('/', ':')}`)).toBe(0);
    const next = await coord.acquire(key, { operation: 'next', timeoutMs: 1_000 });
    expect(next.recorded).toBeUndefined();
    await next.release();
  });
});

describe('changes', () => {
  it('mirror the revision, append to the stream and publish the event with its stream id', async () => {
    const coord = await open();
    const subscriber = rawClient(main.url);
    const messages: string[] = [];
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === CHANGES_CHANNEL) messages.push(message);
    });
    await subscriber.subscribe(CHANGES_CHANNEL);

    const update: ChangeEvent = { version: 1, key: 'web/flags/checkout', action: 'update', revision: sha('v1'), previous: null, at: new Date().toISOString(), commit: sha('c').slice(0, 40) };
    await recordChange(coord, update);
    expect(await raw.get('web:flags:checkout')).toBe(sha('v1'));
    const published = JSON.parse(await until(() => messages[0]));
    const [[id, fields]] = (await raw.xrevrange(EVENTS_STREAM, '+', '-', 'COUNT', 1)) as [string, string[]][];
    expect(fields[0]).toBe('event');
    expect(JSON.parse(fields[1]!)).toEqual(update);
    expect(published).toEqual({ ...update, stream: id });
    expect(validateEvent(published), ajv.errorsText(validateEvent.errors)).toBe(true);
    expect(validateEvent(JSON.parse(fields[1]!)), ajv.errorsText(validateEvent.errors)).toBe(true);

    const removal: ChangeEvent = { version: 1, key: 'web/flags/checkout', action: 'delete', revision: null, previous: sha('v1'), at: new Date().toISOString() };
    await recordChange(coord, removal);
    expect(await raw.exists('web:flags:checkout')).toBe(0);
    const deleted = JSON.parse(await until(() => messages[1]));
    expect(deleted).toMatchObject({ ...removal, stream: expect.stringMatching(/^\d+-\d+$/) });
    expect(validateEvent(deleted), ajv.errorsText(validateEvent.errors)).toBe(true);

    // The schema catches malformed events, so the tests above can fail.
    expect(validateEvent({ ...removal, revision: sha('v1') })).toBe(false);
    expect(validateEvent({ ...update, revision: null })).toBe(false);
    expect(validateEvent({ ...update, key: 'web/flags' })).toBe(false);
    expect(validateEvent({ ...update, at: 'yesterday' })).toBe(false);
    expect(validateEvent({ ...update, extra: true })).toBe(false);
    expect((await failure(recordChange(coord, { ...update, revision: null }))).code).toBe('internal');
  });

  it('keep the stream capped', async () => {
    const coord = await open({ namespace: 'capped:', streamMaxLength: 10 });
    for (let i = 0; i < 400; i++) {
      await recordChange(coord, { version: 1, key: `cap/doc/d${i}`, action: 'update', revision: sha(`r${i}`), previous: null, at: new Date().toISOString() });
    }
    // MAXLEN ~ trims whole stream nodes (100 entries by default), so the length stays near the cap.
    expect(await raw.xlen(`capped:${EVENTS_STREAM}`)).toBeLessThan(200);
  });

  it('are read back for 2,500 keys at once, null where absent', async () => {
    const coord = await open();
    const keys = Array.from({ length: 2_500 }, (_, i) => `bulk/doc/d${i}`);
    const present = keys.filter((_, i) => i % 3 !== 0);
    await raw.mset(Object.fromEntries(present.map((key) => [mirrorKey('', key), sha(key)])));
    await recordChange(coord, { version: 1, key: keys[0]!, action: 'update', revision: sha('zero'), previous: null, at: new Date().toISOString() });
    const mirror = await coord.readMirror(keys);
    expect(mirror.size).toBe(2_500);
    keys.forEach((key, i) => expect(mirror.get(key)).toBe(i === 0 ? sha('zero') : i % 3 === 0 ? null : sha(key)));
    expect((await coord.readMirror([])).size).toBe(0);
  });
});

describe('namespaces', () => {
  it('isolate locks, mirror, stream and channel of stores sharing one Redis', async () => {
    const [blue, green] = await Promise.all([open({ namespace: 'blue:' }), open({ namespace: 'green:' })]);
    const key = 'ns/doc/one';
    const [l1, l2] = await Promise.all([blue.acquire(key, { operation: 'b', timeoutMs: 200 }), green.acquire(key, { operation: 'g', timeoutMs: 200 })]);
    expect(await raw.exists('blue:lock:ns:doc:one', 'green:lock:ns:doc:one')).toBe(2);
    expect(await raw.exists('lock:ns:doc:one')).toBe(0);

    const subscriber = rawClient(main.url);
    const seen: string[] = [];
    subscriber.on('pmessage', (_pattern: string, channel: string) => seen.push(channel));
    await subscriber.psubscribe(`*${CHANGES_CHANNEL}`);
    await l1.recordAndRelease({ version: 1, key, action: 'update', revision: sha('blue'), previous: null, at: new Date().toISOString() }, { revision: sha('blue'), transitions: [] });
    await until(() => (seen.length ? true : undefined));
    await sleep(50);
    expect(seen).toEqual([`blue:${CHANGES_CHANNEL}`]);
    expect(await raw.get('blue:ns:doc:one')).toBe(sha('blue'));
    expect((await blue.readMirror([key])).get(key)).toBe(sha('blue'));
    expect((await green.readMirror([key])).get(key)).toBeNull();
    expect(await raw.xlen(`blue:${EVENTS_STREAM}`)).toBe(1);
    expect(await raw.xlen(`green:${EVENTS_STREAM}`)).toBe(0);
    await Promise.all([l1.release(), l2.release()]);
  });
});

describe('connecting', () => {
  it('uses credentials from the URL, percent-encoded, and reports a wrong password without revealing it', async () => {
    const encoded = encodeURIComponent(PASSWORD);
    const base = `127.0.0.1:${secured.port}`;
    const coord = await open({ url: `redis://default:${encoded}@${base}` });
    expect(coord.description).toBe(`redis://default:***@${base}`);
    const lock = await coord.acquire(freshKey(), { operation: 'auth', timeoutMs: 1_000 });
    await lock.assertHeld();
    await lock.release();
    await open({ url: `redis://:${encoded}@${base}/1` });
    // A named ACL user, as hosted Redis hands out.
    await rawClient(`redis://default:${encoded}@${base}`).call('ACL', 'SETUSER', 'app', 'on', '>app secret/1', '~*', '&*', '+@all');
    const named = await open({ url: `redis://app:${encodeURIComponent('app secret/1')}@${base}` });
    expect(await named.forceUnlock(freshKey())).toBe(false);

    const wrongPassword = `not-${PASSWORD}`;
    const wrong = await failure(RedisCoordinator.connect({ url: `redis://default:${encodeURIComponent(wrongPassword)}@${base}`, lockTtlMs: 1_000 }));
    expect(wrong.code).toBe('coord');
    expect(wrong.message).toBe(`Redis refused the credentials for redis://default:***@${base}`);
    for (const secret of [wrongPassword, encodeURIComponent(wrongPassword), PASSWORD]) expect(String(wrong)).not.toContain(secret);

    const none = await failure(RedisCoordinator.connect({ url: `redis://${base}`, lockTtlMs: 1_000 }));
    expect(none.code).toBe('coord');
    expect(none.message).toMatch(/^Redis at redis:\/\/127\.0\.0\.1:\d+ requires credentials/);
  });

  it('fails fast and clearly when nothing listens, or the server does not answer', async () => {
    const port = await freePort();
    let started = Date.now();
    const refused = await failure(RedisCoordinator.connect({ url: `redis://127.0.0.1:${port}`, lockTtlMs: 1_000, connectTimeoutMs: 2_000 }));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(refused.code).toBe('coord');
    expect(refused.message).toMatch(new RegExp(`^cannot reach Redis at redis://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));

    aux.pause();
    started = Date.now();
    const silent = await failure(RedisCoordinator.connect({ url: `redis://admin:hunter2@127.0.0.1:${aux.port}`, lockTtlMs: 1_000, connectTimeoutMs: 400 }));
    const elapsed = Date.now() - started;
    aux.resume();
    expect(elapsed).toBeGreaterThanOrEqual(390);
    expect(elapsed).toBeLessThan(1_500);
    expect(silent.message).toBe(`cannot reach Redis at redis://admin:***@127.0.0.1:${aux.port}: no answer within 400 ms`);
  });

  it('reconnects after Redis restarts', async () => {
    const coord = await open({ url: aux.url });
    const key = freshKey();
    await (await coord.acquire(key, { operation: 'before', timeoutMs: 1_000 })).release();
    await aux.restart();
    // While reconnecting, calls fail at once with a coord error rather than hanging or queueing.
    const lock = await until(() =>
      coord.acquire(key, { operation: 'after', timeoutMs: 1_000 }).catch((error: unknown) => {
        expect((error as StaticsError).code).toBe('coord');
        return undefined;
      }),
    );
    await lock.assertHeld();
    await lock.release();
  });

  it('speaks TLS with rediss://, verifying the certificate', async () => {
    const secure = await startRedis({ tls: true });
    try {
      expect(secure.url).toMatch(/^rediss:\/\//);
      const coord = await open({ url: secure.url, tls: { ca: secure.ca } });
      const key = 'tls/doc/one';
      const lock = await coord.acquire(key, { operation: 'tls', timeoutMs: 1_000 });
      await lock.assertHeld();
      await lock.recordAndRelease({ version: 1, key, action: 'update', revision: sha('tls'), previous: null, at: new Date().toISOString() }, { revision: sha('tls'), transitions: [] });
      expect((await coord.readMirror([key])).get(key)).toBe(sha('tls'));
      await lock.release();

      const untrusted = await failure(RedisCoordinator.connect({ url: secure.url, lockTtlMs: 1_000, connectTimeoutMs: 2_000 }));
      expect(untrusted.code).toBe('coord');
      expect(untrusted.message).toMatch(/^cannot reach Redis at rediss:\/\/127\.0\.0\.1:\d+: .*self[- ]signed/i);
    } finally {
      await Promise.all(opened.splice(0).map((coord) => coord.close()));
      await secure.stop();
    }
  });
});
