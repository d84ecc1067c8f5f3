/**
 * The S3 store against a real S3 API (s3rver, in-process). Where s3rver cannot show a behaviour
 * (conditional-write failures, versioned history), a fault-injecting proxy in front of it or the
 * pure merge function stands in, and says so.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetBucketWebsiteCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StaticsError } from '../../src/errors.js';
import { describeS3Error } from '../../src/store/s3-errors.js';
import type { Transition } from '../../src/model.js';
import {
  decodeTransitions,
  encodeTransitions,
  mergeHistory,
  metadataSize,
  TRANSITIONS_META,
} from '../../src/store/s3-metadata.js';
import { AWS_SDK_WARNING_FILTER, currentEtag, parseS3Url, S3Store, type S3StoreOptions } from '../../src/store/s3.js';
import { configureBucket } from '../../src/store/s3-setup.js';
import { TRANSITIONS_KEPT } from '../../src/store/types.js';
import { mapConcurrent } from '../../src/util/concurrency.js';
import { startS3, type RecordedRequest, type TestS3 } from '../support/s3.js';

const BUCKET = 'statics-test';

let s3: TestS3;
const stores: S3Store[] = [];

function open(prefix: string, overrides: Partial<S3StoreOptions> = {}): S3Store {
  const store = new S3Store({ bucket: BUCKET, prefix, endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials, ...overrides });
  stores.push(store);
  return store;
}

function doc(text: string): { bytes: Buffer; revision: string } {
  const bytes = Buffer.from(text);
  return { bytes, revision: createHash('sha256').update(bytes).digest('hex') };
}

function md5(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

function apply(revision: string, previous: string | null, extra: Partial<Transition> = {}): Transition {
  return { revision, previous, at: new Date().toISOString(), action: 'apply', ...extra };
}

/** Stores `text` as the next revision of `key` and moves `current` to it. */
async function publish(store: S3Store, key: string, text: string, mediaType = 'application/json'): Promise<string> {
  const { bytes, revision } = doc(text);
  await store.putRevision(key, revision, bytes, { mediaType, size: bytes.length }, { commit: 'c0ffee', path: `documents/${key}.json` });
  const [expected] = (await store.readCurrent([key])).values();
  await store.setCurrent(key, apply(revision, expected?.revision ?? null), expected ?? null);
  return revision;
}

function header(request: RecordedRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

async function rejection(promise: Promise<unknown>): Promise<StaticsError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(StaticsError);
    return error as StaticsError;
  }
  throw new Error('expected a rejection');
}

beforeAll(async () => {
  s3 = await startS3();
  await s3.createBucket(BUCKET);
});

afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
  await s3?.stop();
});

describe('parseS3Url', () => {
  it('splits bucket and prefix and normalises slashes', () => {
    expect(parseS3Url('s3://my-bucket')).toEqual({ bucket: 'my-bucket', prefix: '' });
    expect(parseS3Url('s3://my-bucket/')).toEqual({ bucket: 'my-bucket', prefix: '' });
    expect(parseS3Url('s3://my.bucket/a/b/')).toEqual({ bucket: 'my.bucket', prefix: 'a/b' });
  });

  it('refuses what is not an S3 store', () => {
    for (const bad of ['https://bucket/x', 's3://', 's3://UPPER', 's3://b', 's3://bucket/a//b', 's3://bucket/a/../b']) {
      expect(() => parseS3Url(bad), bad).toThrow(StaticsError);
    }
  });
});

describe.each([
  ['nested prefix', 'team/configs', BUCKET],
  // A bucket of its own: a store at the root of a bucket holding other stores would see their objects.
  ['empty prefix', '', 'statics-root'],
])('S3Store with a %s', (_label, prefix, bucket) => {
  const base = prefix ? `${prefix}/` : '';
  let store: S3Store;
  beforeAll(async () => {
    if (bucket !== BUCKET) await s3.createBucket(bucket);
    store = open(prefix, { bucket });
  });

  it('describes itself without credentials', () => {
    expect(store.description).toBe(prefix ? `s3://${bucket}/${prefix}` : `s3://${bucket}`);
    expect(store.description).not.toContain(s3.credentials.secretAccessKey);
  });

  it('stores revisions with content type, cache-control and provenance', async () => {
    const key = 'app/config/service';
    const { bytes, revision } = doc('{\n  "replicas": 3\n}\n');
    const provenance = { commit: 'a'.repeat(40), path: 'documents/app/config/sérvice naïve.json' };
    expect(await store.statRevision(key, revision)).toBeNull();
    expect(await store.getRevision(key, revision)).toBeNull();

    await store.putRevision(key, revision, bytes, { mediaType: 'application/json', size: bytes.length }, provenance);

    expect(await store.statRevision(key, revision)).toEqual({ mediaType: 'application/json', size: bytes.length });
    const stored = await store.getRevision(key, revision);
    expect(stored?.bytes.equals(bytes)).toBe(true);
    expect(stored?.mediaType).toBe('application/json');
    expect(stored?.provenance).toEqual(provenance);
    expect(await store.listRevisions(key)).toEqual([revision]);

    // A new store keeps revisions apart from the pointers (the split layout).
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: bucket, Key: `${base}~revisions/${key}/${revision}` }));
    expect(head.CacheControl).toBe('public, max-age=31536000, immutable');
    expect(head.ContentType).toBe('application/json');
    for (const value of Object.values(head.Metadata ?? {})) expect(value).toMatch(/^[\x20-\x7e]*$/);
  });

  it('writes an existing revision again without error or change, asking If-None-Match', async () => {
    const key = 'app/config/again';
    const { bytes, revision } = doc('same bytes\n');
    const info = { mediaType: 'text/plain', size: bytes.length };
    const recorder = s3.record();
    await store.putRevision(key, revision, bytes, info, {});
    await store.putRevision(key, revision, bytes, info, {});
    const puts = recorder.stop().filter((r) => r.method === 'PUT');
    expect(puts).toHaveLength(2);
    for (const put of puts) expect(header(put, 'if-none-match')).toBe('*');
    expect((await store.getRevision(key, revision))?.bytes.equals(bytes)).toBe(true);
    expect(await store.listRevisions(key)).toEqual([revision]);
  });

  it('refuses a revision whose name is not the sha256 of its bytes', async () => {
    const { bytes } = doc('one');
    const other = doc('two').revision;
    await expect(store.putRevision('app/config/x', other, bytes, { mediaType: 'text/plain', size: 3 }, {})).rejects.toThrow(/sha256/);
    expect(await store.statRevision('app/config/x', other)).toBeNull();
  });

  it('refuses a current whose body is not a revision', async () => {
    const key = 'app/config/corrupt';
    await s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: `${base}${key}/current`, Body: Buffer.from('not a revision\n') }));
    const error = await rejection(store.readCurrent([key]));
    expect(error.code).toBe('store');
    expect(error.message).toContain(`corrupt current of ${key}`);
  });

  it('points current at a revision: body, ETag, redirect, headers', async () => {
    const key = 'web/page/home';
    const revision = await publish(store, key, '<h1>hello</h1>\n', 'text/html');
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: bucket, Key: `${base}${key}/current` }));
    expect(head.ETag).toBe(`"${md5(`${revision}\n`)}"`);
    expect(head.ETag).toBe(currentEtag(revision));
    expect(head.ContentLength).toBe(65);
    expect(head.WebsiteRedirectLocation).toBe(`/${base}~revisions/${key}/${revision}`);
    expect(head.WebsiteRedirectLocation).not.toContain('//');
    expect(head.CacheControl).toBe('no-cache');
    expect(head.ContentType).toBe('text/plain');

    const record = (await store.readCurrent([key])).get(key);
    expect(record?.revision).toBe(revision);
    expect(record?.tag).toBe(head.ETag);
    expect(record?.transitions[0]).toMatchObject({ revision, previous: null, action: 'apply' });
  });

  it('serves current over the website endpoint as a 301 to the revision', async () => {
    const key = 'web/page/about';
    const html = '<h1>about</h1>\n';
    const revision = await publish(store, key, html, 'text/html; charset=utf-8');

    const redirect = await s3.websiteGet(bucket, `/${base}${key}/current`);
    expect(redirect.status).toBe(301);
    expect(redirect.location).toBe(`/${base}~revisions/${key}/${revision}`);

    const target = await s3.websiteGet(bucket, redirect.location ?? '');
    expect(target.status).toBe(200);
    expect(target.body.toString()).toBe(html);
    expect(target.contentType).toBe('text/html; charset=utf-8');
    expect(target.cacheControl).toBe('public, max-age=31536000, immutable');
  });

  it('refuses to point current at a missing revision', async () => {
    const key = 'app/config/guarded';
    const kept = await publish(store, key, 'v1\n');
    const missing = doc('never stored').revision;
    const [expected] = (await store.readCurrent([key])).values();
    const error = await rejection(store.setCurrent(key, apply(missing, kept), expected ?? null));
    expect(error.code).toBe('store');
    expect(error.message).toContain(missing);
    expect((await store.readCurrent([key])).get(key)?.revision).toBe(kept);
  });

  it('fences writes of current with If-Match / If-None-Match', async () => {
    const key = 'app/config/fenced';
    const recorder = s3.record();
    const first = await publish(store, key, 'first\n');
    await publish(store, key, 'second\n');
    const puts = recorder.stop().filter((r) => r.method === 'PUT' && r.url.includes('/current'));
    expect(puts).toHaveLength(2);
    expect(header(puts[0]!, 'if-none-match')).toBe('*');
    expect(header(puts[0]!, 'if-match')).toBeUndefined();
    expect(header(puts[1]!, 'if-match')).toBe(currentEtag(first));
  });

  it('keeps transitions newest first and history follows them; delete keeps revisions', async () => {
    const key = 'app/config/history';
    const revisions: string[] = [];
    for (let i = 0; i < 3; i++) revisions.push(await publish(store, key, `version ${i}\n`));
    const history = await store.history(key);
    expect(history.map((t) => t.revision)).toEqual([...revisions].reverse());
    expect(history.map((t) => t.previous)).toEqual([revisions[1], revisions[0], null]);

    const expected = (await store.readCurrent([key])).get(key);
    await store.deleteCurrent(key, { revision: null, previous: revisions[2]!, at: new Date().toISOString(), action: 'delete' }, expected!);
    expect((await store.readCurrent([key])).get(key)).toBeNull();
    expect((await s3.websiteGet(bucket, `/${base}${key}/current`)).status).toBe(404);
    expect((await store.listRevisions(key)).sort()).toEqual([...revisions].sort());
    // s3rver keeps no versions: a deleted document's history went with its `current`.
    expect(await store.history(key)).toEqual([]);
  });
});

describe('transitions in metadata', () => {
  it('round-trip exactly when they fit, keeping all TRANSITIONS_KEPT', async () => {
    const store = open('meta');
    const key = 'm/t/short';
    const moves: Transition[] = [];
    let previous: string | null = null;
    for (let i = 0; i < TRANSITIONS_KEPT + 2; i++) {
      const { bytes, revision } = doc(`short ${i}\n`);
      await store.putRevision(key, revision, bytes, { mediaType: 'text/plain', size: bytes.length }, {});
      const transition = apply(revision, previous, { commit: createHash('sha1').update(`${i}`).digest('hex'), actor: `ci-${i}` });
      const expected = (await store.readCurrent([key])).get(key) ?? null;
      await store.setCurrent(key, transition, expected);
      moves.unshift(transition);
      previous = revision;
    }
    const record = (await store.readCurrent([key])).get(key);
    expect(record?.transitions).toEqual(moves.slice(0, TRANSITIONS_KEPT));
  });

  it('drop the oldest to stay under 2 KB with long and non-ASCII actors and commits', async () => {
    const store = open('meta');
    const key = 'm/t/long';
    const moves: Transition[] = [];
    let previous: string | null = null;
    for (let i = 0; i < TRANSITIONS_KEPT; i++) {
      const { bytes, revision } = doc(`long ${i}\n`);
      await store.putRevision(key, revision, bytes, { mediaType: 'text/plain', size: bytes.length }, {});
      const transition = apply(revision, previous, {
        action: i % 3 === 2 ? 'rollback' : 'apply',
        commit: `${'f'.repeat(64)}-${i}`,
        actor: `Zoë Ångström-Øster 日本語 <zoe.${i}@example.com> via GitHub Actions`,
      });
      const expected = (await store.readCurrent([key])).get(key) ?? null;
      await store.setCurrent(key, transition, expected);
      moves.unshift(transition);
      previous = revision;
    }
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `meta/${key}/current` }));
    const metadata = head.Metadata ?? {};
    expect(metadataSize(metadata)).toBeLessThan(2048);
    expect(metadata[TRANSITIONS_META]).toMatch(/^[\x21-\x7e]+$/);

    const kept = (await store.readCurrent([key])).get(key)?.transitions ?? [];
    expect(kept.length).toBeGreaterThanOrEqual(2);
    expect(kept.length).toBeLessThan(TRANSITIONS_KEPT);
    expect(kept).toEqual(moves.slice(0, kept.length));
  });

  it('cut a single huge actor rather than lose the newest transition', () => {
    const revision = doc('x').revision;
    const transition = apply(revision, null, { actor: 'ä'.repeat(5000), commit: 'c'.repeat(3000) });
    const value = encodeTransitions([transition]);
    expect(metadataSize({ [TRANSITIONS_META]: value })).toBeLessThan(2048);
    const [decoded] = decodeTransitions(value);
    expect(decoded?.revision).toBe(revision);
    expect(decoded?.actor).toMatch(/^ä+$/);
    expect(decoded?.commit).toMatch(/^c+$/);
  });

  it('keep times that are not canonical ISO strings as they were', () => {
    const revision = doc('y').revision;
    const odd = { revision: null, previous: revision, at: '2024-05-01T10:00:00+02:00', action: 'delete' as const };
    expect(decodeTransitions(encodeTransitions([odd]))).toEqual([odd]);
  });

  it('read malformed metadata as no transitions instead of failing', () => {
    expect(decodeTransitions(undefined)).toEqual([]);
    expect(decodeTransitions('2,whatever')).toEqual([]);
    expect(decodeTransitions('1,x;;nonsense')).toEqual([]);
  });
});

describe('history from bucket versions (merge; s3rver keeps no versions)', () => {
  const [r1, r2, r3] = ['a', 'b', 'c'].map((t) => doc(t).revision) as [string, string, string];
  const t1: Transition = { revision: r1, previous: null, at: '2024-01-01T00:00:00.000Z', action: 'apply', actor: 'ann' };
  const t2: Transition = { revision: r2, previous: r1, at: '2024-01-02T00:00:00.000Z', action: 'apply' };
  const t3: Transition = { revision: r3, previous: null, at: '2024-01-04T00:00:00.000Z', action: 'apply' };

  it('merges overlapping version metadata, rebuilds deletes from markers, newest first', () => {
    const history = mergeHistory([
      { lastModified: new Date('2024-01-01T00:00:00Z'), deleteMarker: false, transitions: [t1] },
      { lastModified: new Date('2024-01-04T00:00:00Z'), deleteMarker: false, transitions: [t3] },
      { lastModified: new Date('2024-01-02T00:00:00Z'), deleteMarker: false, transitions: [t2, t1] },
      { lastModified: new Date('2024-01-03T00:00:00Z'), deleteMarker: true, transitions: [] },
    ]);
    expect(history).toEqual([
      t3,
      { revision: null, previous: r2, at: '2024-01-03T00:00:00.000Z', action: 'delete' },
      t2,
      t1,
    ]);
  });

  it('gives a deleted document its history, and ignores a marker laid on a marker', () => {
    const history = mergeHistory([
      { lastModified: new Date('2024-01-03T00:00:00Z'), deleteMarker: true, transitions: [] },
      { lastModified: new Date('2024-01-05T00:00:00Z'), deleteMarker: true, transitions: [] },
      { lastModified: new Date('2024-01-02T00:00:00Z'), deleteMarker: false, transitions: [t2, t1] },
    ]);
    expect(history.map((t) => [t.action, t.revision, t.previous])).toEqual([
      ['delete', null, r2],
      ['apply', r2, r1],
      ['apply', r1, null],
    ]);
  });
});

describe('listing many documents', () => {
  const DOCS = 350;
  const keys = Array.from({ length: DOCS }, (_, i) => `bulk/cfg/doc${String(i).padStart(4, '0')}`);
  const revisions = new Map<string, string>();
  let store: S3Store;

  beforeAll(async () => {
    store = open('many', { concurrency: 16 });
    // 350 documents x (2 revisions + current) = 1050 objects beside each other: the listing needs two pages.
    await store.useLayout('nested');
    await mapConcurrent(keys, 16, async (key) => {
      for (const text of [`${key} old\n`, `${key} new\n`]) {
        const { bytes, revision } = doc(text);
        await store.putRevision(key, revision, bytes, { mediaType: 'text/plain', size: bytes.length }, {});
      }
      const { revision } = doc(`${key} new\n`);
      await store.setCurrent(key, apply(revision, null), null);
      revisions.set(key, revision);
    });
    // Keys that are not documents' `current` are ignored.
    for (const junk of ['many/readme.txt', 'many/bulk/cfg/current', 'many/bulk/bad..name/x/current', 'many/bulk/cfg/doc0000/extra/current']) {
      await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: junk, Body: Buffer.from('x') }));
    }
  }, 120_000);

  it('confirms every unchanged document from one paginated listing, reading none', async () => {
    const recorder = s3.record();
    const listing = await store.listCurrent();
    const requests = recorder.stop();

    expect(requests.length).toBe(2); // 1054 objects: two pages of at most 1000
    for (const request of requests) {
      expect(request.method).toBe('GET');
      expect(request.url).toMatch(/^\/statics-test\/?\?/);
      expect(request.url).toContain('prefix=many%2F');
    }
    expect([...listing.keys()].sort()).toEqual(keys);
    for (const key of keys) {
      const entry = listing.get(key)!;
      expect(entry.confirms(revisions.get(key)!)).toBe(true);
      expect(entry.confirms(doc(`${key} old\n`).revision)).toBe(false);
    }
  });

  it('sees a moved current as unconfirmed', async () => {
    const key = keys[7]!;
    const moved = await publish(store, key, 'moved\n', 'text/plain');
    const listing = await store.listCurrent();
    expect(listing.get(key)?.confirms(revisions.get(key)!)).toBe(false);
    expect(listing.get(key)?.confirms(moved)).toBe(true);
    revisions.set(key, moved);
  });

  it('reads many currents concurrently, null for absent ones', async () => {
    const absent = ['bulk/cfg/nothere', 'other/cfg/none'];
    const recorder = s3.record();
    const records = await store.readCurrent([...keys, ...absent]);
    const requests = recorder.stop();
    expect(requests.length).toBe(keys.length + absent.length);
    for (const key of keys) expect(records.get(key)?.revision).toBe(revisions.get(key));
    for (const key of absent) expect(records.get(key)).toBeNull();
  }, 60_000);
});

describe('servers that differ from s3rver (fault-injecting proxy in front of it)', () => {
  let proxy: http.Server;
  let mode: 'reject-conditions' | 'precondition-failed' = 'reject-conditions';
  const seen: Array<{ method: string; conditional: boolean; status: number }> = [];

  beforeAll(async () => {
    const target = new URL(s3.endpoint);
    proxy = http.createServer((req, res) => {
      const conditional = req.headers['if-match'] !== undefined || req.headers['if-none-match'] !== undefined;
      const refuse = (status: number, code: string): void => {
        req.resume();
        seen.push({ method: req.method ?? '', conditional, status });
        res.writeHead(status, { 'content-type': 'application/xml' });
        res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`);
      };
      if (conditional && mode === 'reject-conditions') return refuse(501, 'NotImplemented');
      if (req.headers['if-match'] !== undefined && mode === 'precondition-failed') return refuse(412, 'PreconditionFailed');
      if (req.headers['if-none-match'] !== undefined && mode === 'precondition-failed' && req.method === 'PUT') {
        return refuse(412, 'PreconditionFailed');
      }
      const upstream = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (response) => {
          seen.push({ method: req.method ?? '', conditional, status: response.statusCode ?? 0 });
          res.writeHead(response.statusCode ?? 502, response.headers);
          response.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    proxy.closeAllConnections();
    await new Promise((resolve) => proxy.close(resolve));
  });

  const viaProxy = (): S3Store =>
    open('proxied', { endpoint: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` });

  it('retries once without If-Match/If-None-Match after a 501, and stops sending them', async () => {
    mode = 'reject-conditions';
    seen.length = 0;
    const store = viaProxy();
    const key = 'p/t/plain';
    const first = await publish(store, key, 'one\n');
    const second = await publish(store, key, 'two\n');
    expect((await store.readCurrent([key])).get(key)?.revision).toBe(second);
    expect(seen.filter((r) => r.status === 501)).toHaveLength(1);
    expect(seen.filter((r) => r.conditional && r.status !== 501)).toHaveLength(0);
    expect(first).not.toBe(second);
  });

  it('reports a 412 on current as stale, and treats one on a revision as already stored', async () => {
    mode = 'reject-conditions';
    const store = viaProxy();
    const key = 'p/t/raced';
    const base = await publish(store, key, 'base\n');
    const expected = (await store.readCurrent([key])).get(key)!;
    const next = doc('next\n');

    mode = 'precondition-failed';
    const racing = viaProxy();
    await racing.putRevision(key, next.revision, next.bytes, { mediaType: 'text/plain', size: next.bytes.length }, {});
    expect(await racing.statRevision(key, next.revision)).toBeNull(); // the 412 said "exists": nothing written
    const error = await rejection(racing.setCurrent(key, apply(base, base), expected));
    expect(error.code).toBe('stale');
    const deleteError = await rejection(racing.deleteCurrent(key, { ...apply(base, base), revision: null, action: 'delete' }, expected));
    expect(deleteError.code).toBe('stale');
    expect((await store.readCurrent([key])).get(key)?.revision).toBe(base);
  });
});

describe('configureBucket', () => {
  it('creates and configures a bucket, reports what s3rver lacks, and is idempotent', async () => {
    const options = { bucket: 'statics-init', prefix: 'cfg', endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials };
    const first = await configureBucket(options, { createBucket: true, noncurrentVersionDays: 30 });
    expect(first.map((step) => [step.setting, step.status])).toEqual([
      ['bucket', 'configured'],
      ['website', 'configured'],
      ['versioning', 'unsupported'],
      ['lifecycle', 'unsupported'],
    ]);
    expect(first.find((step) => step.setting === 'versioning')?.detail).toMatch(/history is limited to the last \d+ transitions/);

    const store = open('cfg', { bucket: 'statics-init' });
    const website = await s3.client.send(new GetBucketWebsiteCommand({ Bucket: 'statics-init' }));
    expect(website.IndexDocument?.Suffix).toBe('index.html');
    const revision = await publish(store, 'a/b/c', 'configured\n', 'text/plain');
    const redirect = await s3.websiteGet('statics-init', '/cfg/a/b/c/current');
    expect([redirect.status, redirect.location]).toEqual([301, `/cfg/~revisions/a/b/c/${revision}`]);

    const second = await configureBucket(store, { createBucket: true, noncurrentVersionDays: 30 });
    expect(second.map((step) => [step.setting, step.status])).toEqual([
      ['bucket', 'unchanged'],
      ['website', 'unchanged'],
      ['versioning', 'unsupported'],
      ['lifecycle', 'unsupported'],
    ]);
  });

  it('reports a missing bucket without throwing and without creating it', async () => {
    const options = { bucket: 'statics-absent', prefix: '', endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials };
    const steps = await configureBucket(options);
    expect(steps[0]).toEqual({ setting: 'bucket', status: 'failed', detail: 'bucket "statics-absent" does not exist' });
    expect(steps.slice(1).every((step) => step.status === 'failed')).toBe(true);
    expect((await configureBucket(options))[0]?.status).toBe('failed');
  });
});

describe('errors', () => {
  function assertOneSafeLine(error: StaticsError, secrets: string[]): void {
    expect(error.code).toBe('store');
    expect(error.message).not.toMatch(/\n/);
    for (const secret of secrets) expect(error.message).not.toContain(secret);
    expect(error.message).not.toMatch(/Signature=|Credential=/);
  }

  it('names a missing bucket', async () => {
    const store = open('x', { bucket: 'no-such-bucket' });
    const error = await rejection(store.listCurrent());
    expect(error.message).toBe('bucket "no-such-bucket" does not exist');
    assertOneSafeLine(error, [s3.credentials.secretAccessKey]);
    const readError = await rejection(store.readCurrent(['a/b/c']));
    expect(readError.message).toBe('bucket "no-such-bucket" does not exist');
  });

  it('explains an unknown access key without printing credentials', async () => {
    const credentials = { accessKeyId: 'AKIDUNKNOWN0000', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
    const store = open('x', { credentials });
    const error = await rejection(store.listCurrent());
    expect(error.message).toMatch(/^access denied to s3:\/\/statics-test\/x: /);
    assertOneSafeLine(error, [credentials.secretAccessKey]);
  });

  it('names an unreachable endpoint (a closed port)', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));

    const credentials = { accessKeyId: 'AKIDCLOSED', secretAccessKey: 'closed-port-secret-value' };
    const store = open('x', { endpoint: `http://127.0.0.1:${port}`, credentials });
    const error = await rejection(store.listCurrent());
    expect(error.message).toBe(`cannot reach the S3 endpoint http://127.0.0.1:${port}: connection refused`);
    assertOneSafeLine(error, [credentials.secretAccessKey, credentials.accessKeyId]);
  });
});

describe('error messages for what s3rver cannot produce', () => {
  const context = {
    bucket: 'b',
    location: 's3://b/p',
    endpoint: 'https://s3.amazonaws.com',
    region: 'us-east-1',
    secrets: ['TOPSECRETKEY'],
  };
  // Shaped as the SDK delivers them: name/Code, $metadata, and the raw response's headers.
  const sdkError = (fields: Record<string, unknown>): Error => Object.assign(new Error(String(fields.message ?? '')), fields);

  it('names the region a bucket is in', () => {
    const error = sdkError({
      name: 'PermanentRedirect',
      $metadata: { httpStatusCode: 301 },
      $response: { headers: { 'x-amz-bucket-region': 'eu-west-1' } },
    });
    expect(describeS3Error(error, 'list', context).message).toBe('bucket "b" is in region eu-west-1, not us-east-1 (set AWS_REGION=eu-west-1)');
    const headError = sdkError({ name: '301', $metadata: { httpStatusCode: 301 }, $response: { headers: {} } });
    expect(describeS3Error(headError, 'stat', context).message).toMatch(/^bucket "b" is in another region, not us-east-1/);
  });

  it('says access denied, keeps to one line and leaves secrets and signatures out', () => {
    const denied = sdkError({ name: 'AccessDenied', Code: 'AccessDenied', $metadata: { httpStatusCode: 403 }, message: 'Access Denied' });
    expect(describeS3Error(denied, 'list', context).message).toBe('access denied to s3://b/p (check credentials and the bucket policy)');
    const odd = sdkError({
      name: 'WeirdError',
      $metadata: { httpStatusCode: 400 },
      message: 'bad TOPSECRETKEY X-Amz-Signature=abcdef0123&X-Amz-Credential=AKID/2024\nsecond line',
    });
    const message = describeS3Error(odd, 'list', context).message;
    expect(message).toBe('S3 list failed for s3://b/p: WeirdError (HTTP 400): bad *** X-Amz-Signature=***&X-Amz-Credential=***');
  });
});

describe('AWS_SDK_WARNING_FILTER', () => {
  const script = `const { S3Client } = require('@aws-sdk/client-s3'); new S3Client({ region: 'us-east-1' });`;
  const run = (env: Record<string, string>): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile(process.execPath, ['-e', script], { env: { PATH: process.env.PATH ?? '', ...env }, cwd: process.cwd() }, (error, _stdout, stderr) =>
        error ? reject(error) : resolve(stderr),
      );
    });

  it.runIf(Number(process.versions.node.split('.')[0]) < 22)('matches the warning the SDK emits, and its env switch silences it', async () => {
    const noisy = await run({});
    expect(noisy).toContain('NodeVersionSupportWarning');
    const message = noisy.slice(noisy.indexOf('NodeVersionSupportWarning'));
    expect(AWS_SDK_WARNING_FILTER.matches(message)).toBe(true);
    expect(AWS_SDK_WARNING_FILTER.matches('some other warning')).toBe(false);

    const quiet = await run({ [AWS_SDK_WARNING_FILTER.env.name]: AWS_SDK_WARNING_FILTER.env.value });
    expect(quiet).toBe('');
  });
});
