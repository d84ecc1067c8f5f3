/**
 * Where revisions live, and what it costs to learn every `current`: the split layout (what a new
 * store gets: revisions under P/~revisions/…) lists the pointers alone however long the history;
 * the nested one (revisions beside current) is still read and written. Against s3rver.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Transition } from '../../src/model.js';
import { ListObjectsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { S3Store } from '../../src/store/s3.js';
import { mapConcurrent } from '../../src/util/concurrency.js';
import { startS3, type RecordedRequest, type TestS3 } from '../support/s3.js';

const BUCKET = 'statics-layout';
let s3: TestS3;
const stores: S3Store[] = [];

function open(prefix: string): S3Store {
  const store = new S3Store({ bucket: BUCKET, prefix, endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials, concurrency: 16 });
  stores.push(store);
  return store;
}

function revisionOf(text: string): { bytes: Buffer; revision: string } {
  const bytes = Buffer.from(text);
  return { bytes, revision: createHash('sha256').update(bytes).digest('hex') };
}

async function publish(store: S3Store, key: string, text: string): Promise<string> {
  const { bytes, revision } = revisionOf(text);
  await store.putRevision(key, revision, bytes, { mediaType: 'text/plain', size: bytes.length }, {});
  const [expected] = (await store.readCurrent([key])).values();
  const transition: Transition = { revision, previous: expected?.revision ?? null, at: new Date().toISOString(), action: 'apply' };
  await store.setCurrent(key, transition, expected ?? null);
  return revision;
}

async function listKeys(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let marker: string | undefined;
  for (;;) {
    const page = await s3.client.send(new ListObjectsCommand({ Bucket: BUCKET, Prefix: prefix, Marker: marker }));
    for (const object of page.Contents ?? []) keys.push(object.Key!);
    if (!page.IsTruncated) return keys.sort();
    marker = keys[keys.length - 1];
  }
}

beforeAll(async () => {
  s3 = await startS3();
  await s3.createBucket(BUCKET);
});

afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
  await s3?.stop();
});

describe('the split layout', () => {
  const DOCS = 250;
  const keys = Array.from({ length: DOCS }, (_, i) => `app/cfg/doc${String(i).padStart(3, '0')}`);
  const latest = new Map<string, string>();
  let store: S3Store;

  beforeAll(async () => {
    store = open('split');
    // Four revisions each (1000 objects) that a listing of the pointers never reaches.
    await mapConcurrent(keys, 16, async (key) => {
      for (let version = 0; version < 3; version++) {
        const { bytes, revision } = revisionOf(`${key} old ${version}\n`);
        await store.putRevision(key, revision, bytes, { mediaType: 'text/plain', size: bytes.length }, {});
      }
      latest.set(key, await publish(store, key, `${key} v0\n`));
    });
    for (const version of [1, 2, 3]) latest.set(keys[5]!, await publish(store, keys[5]!, `${keys[5]} v${version}\n`));
  }, 120_000);

  it('is what a new store gets, marked once by its first write', async () => {
    expect(await store.storeLayout()).toBe('split');
    expect(await listKeys('split/.')).toEqual(['split/.layout.split']);
    expect(await open('split').useLayout('split')).toBe('unchanged');
  });

  it('is settled by the first write, never by a read: a reader of an empty store writes nothing', async () => {
    const fresh = open('empty-read');
    const { revision } = revisionOf('never written\n');
    expect(await fresh.getRevision('a/b/c', revision)).toBeNull();
    expect(await fresh.statRevision('a/b/c', revision)).toBeNull();
    expect((await fresh.readCurrent(['a/b/c'])).get('a/b/c')).toBeNull();
    expect(await listKeys('empty-read/')).toEqual([]);
    const written = await publish(fresh, 'a/b/c', 'first\n');
    expect(await listKeys('empty-read/')).toEqual(['empty-read/.layout.split', 'empty-read/a/b/c/current', `empty-read/~revisions/a/b/c/${written}`]);
  });

  it('lists the pointers alone, in pages that do not grow with history', async () => {
    const recorder = s3.record();
    const listing = await open('split').listCurrent();
    const requests = recorder.stop();
    expect(requests).toHaveLength(1);
    expect(requests[0]!.url).toContain('prefix=split%2F');
    expect([...listing.keys()].sort()).toEqual(keys);
    for (const key of keys) {
      expect(listing.get(key)!.confirms(latest.get(key)!)).toBe(true);
      expect(listing.get(key)!.confirms(revisionOf(`${key} old 0\n`).revision)).toBe(false);
    }
  });

  it('asks near the end for about as many keys as documents are expected, and still lists them all when told too few', async () => {
    const big = open('split-big');
    const bigKeys = Array.from({ length: 1_300 }, (_, i) => `big/cfg/d${String(i).padStart(4, '0')}`);
    await mapConcurrent(bigKeys, 16, (key) => publish(big, key, `${key}\n`));
    const after = (key: string) => bigKeys.filter((other) => `${other}/` > `${key}/`).length;
    const sizesAsked = async (expectedAfter?: (key: string) => number) => {
      const recorder = s3.record();
      const listing = await open('split-big').listCurrent(expectedAfter ? { expectedAfter } : {});
      expect([...listing.keys()].sort()).toEqual(bigKeys);
      return recorder.stop().map((request) => /max-keys=(\d+)/.exec(request.url)?.[1] ?? 'page');
    };
    // The marker and 999 pointers, then the 301 left and 16 more: the first revisions, which end it.
    expect(await sizesAsked(after)).toEqual(['page', '317']);
    // Told too few, it asks for more each time until the revisions begin: slower, still complete.
    expect(await sizesAsked(() => 0)).toEqual(['page', '16', '32', '64', '128', '256']);
    // Told nothing, whole pages.
    expect(await sizesAsked()).toEqual(['page', 'page']);
  }, 120_000);

  it('keeps current at PREFIX/<domain>/<type>/<id>/current, redirecting to PREFIX/~revisions/…', async () => {
    const key = keys[5]!;
    const fresh = open('split');
    expect(fresh.currentKey(key)).toBe('split/app/cfg/doc005/current');
    const record = (await fresh.readCurrent([key])).get(key)!;
    expect(record.revision).toBe(latest.get(key));
    expect(record.transitions.map((t) => t.revision)).toEqual([3, 2, 1, 0].map((v) => revisionOf(`${key} v${v}\n`).revision));
    expect((await fresh.history(key))[0]!.revision).toBe(latest.get(key));
    const redirect = await s3.websiteGet(BUCKET, '/split/app/cfg/doc005/current');
    expect(redirect.status).toBe(301);
    expect(redirect.location).toBe(`/split/~revisions/app/cfg/doc005/${latest.get(key)}`);
    expect((await s3.websiteGet(BUCKET, redirect.location!)).body.toString()).toBe(`${key} v3\n`);
    expect((await fresh.getRevision(key, revisionOf(`${key} old 1\n`).revision))?.bytes.toString()).toBe(`${key} old 1\n`);
    expect((await fresh.listRevisions(key)).sort()).toEqual(
      [...[0, 1, 2].map((v) => `${key} old ${v}\n`), ...[0, 1, 2, 3].map((v) => `${key} v${v}\n`)].map((text) => revisionOf(text).revision).sort(),
    );
    // Nothing but current beside it.
    expect(await listKeys('split/app/cfg/doc005/')).toEqual(['split/app/cfg/doc005/current']);
  });

  it('deletes current where it lives', async () => {
    const key = keys[9]!;
    const [record] = (await store.readCurrent([key])).values();
    await store.deleteCurrent(key, { revision: null, previous: record!.revision, at: new Date().toISOString(), action: 'delete' }, record!);
    expect((await store.readCurrent([key])).get(key)).toBeNull();
    expect((await store.listCurrent()).has(key)).toBe(false);
  });
});

describe('the nested layout', () => {
  it('is read and written where a store made before layout markers has its objects', async () => {
    // Written the way statics did before markers: revision and current side by side, nothing else.
    const { bytes, revision } = revisionOf('legacy\n');
    await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `legacy/a/b/c/${revision}`, Body: bytes, ContentType: 'text/plain' }));
    await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'legacy/a/b/c/current', Body: `${revision}\n`, WebsiteRedirectLocation: `/legacy/a/b/c/${revision}` }));
    const legacy = open('legacy');
    expect((await legacy.readCurrent(['a/b/c'])).get('a/b/c')?.revision).toBe(revision);
    expect((await legacy.getRevision('a/b/c', revision))?.bytes.toString()).toBe('legacy\n');
    const next = await publish(legacy, 'a/b/c', 'next\n');
    expect(await listKeys('legacy/')).toEqual([`legacy/a/b/c/${revision}`, `legacy/a/b/c/${next}`, 'legacy/a/b/c/current'].sort());
    expect([...(await open('legacy').listCurrent()).keys()]).toEqual(['a/b/c']);
    expect(await legacy.useLayout('nested')).toBe('unchanged');
    await expect(open('legacy').useLayout('split')).rejects.toMatchObject({ code: 'config', message: expect.stringMatching(/keeps its revisions beside current/) });
  });

  it('is kept by a new store set up so, and a store never changes layout', async () => {
    const nested = open('chosen');
    expect(await nested.useLayout('nested')).toBe('configured');
    const revision = await publish(nested, 'a/b/c', 'one\n');
    expect(await listKeys('chosen/')).toEqual(['chosen/.layout.nested', `chosen/a/b/c/${revision}`, 'chosen/a/b/c/current'].sort());
    await expect(open('chosen').useLayout('split')).rejects.toMatchObject({ code: 'config' });
    await expect(open('split').useLayout('nested')).rejects.toMatchObject({ code: 'config', message: expect.stringMatching(/under ~revisions/) });
  });
});

describe('moving current after writing its revision', () => {
  it('does not look the revision up again', async () => {
    const store = open('quick');
    await publish(store, 'x/y/z', 'first\n');
    const recorder = s3.record();
    const revision = await publish(store, 'x/y/z', 'second\n');
    const requests = recorder.stop();
    expect(requests.filter((request) => request.method === 'HEAD' && request.url.includes(revision))).toEqual([]);
    // current is read with a HEAD: its redirect names the revision and its ETag proves the body.
    expect(requests.map((request) => request.method).sort()).toEqual(['HEAD', 'PUT', 'PUT']);
    // A revision it never wrote is still checked.
    const missing = revisionOf('never written').revision;
    const [record] = (await store.readCurrent(['x/y/z'])).values();
    await expect(store.setCurrent('x/y/z', { revision: missing, previous: revision, at: new Date().toISOString(), action: 'apply' }, record!)).rejects.toMatchObject({ code: 'store' });
  });
});

describe('requests without the SDK', () => {
  it('lists, reads, looks up and writes with one signed request each, and leaves anything unexpected to the SDK', async () => {
    const store = open('lean');
    const writing = s3.record();
    await publish(store, 'l/e/an', 'first\n');
    const revision = await publish(store, 'l/e/an', 'lean\n');
    const writes = writing.stop();
    // The first write settles the layout: a one-key listing finds the store empty, the marker is
    // written and the listing repeated (a concurrent first writer may have chosen). That listing
    // also proved the bucket, so a HEAD's bare 404 says current is absent; later a HEAD says it all.
    const named = (request: RecordedRequest) => (request.url.includes('?') ? 'LIST' : `${request.method} ${request.url.split('/').pop()}`);
    expect(writes.map(named).sort()).toEqual([
      'HEAD current', 'HEAD current', 'LIST', 'LIST', 'PUT .layout.split', 'PUT ' + revisionOf('first\n').revision, 'PUT ' + revision, 'PUT current', 'PUT current',
    ]);
    for (const request of writes) expect(request.headers['user-agent']).toBe('statics');
    expect(writes.filter((request) => request.headers['if-none-match'] === '*')).toHaveLength(4);
    const fresh = open('lean');
    const recorder = s3.record();
    expect([...(await fresh.listCurrent()).keys()]).toEqual(['l/e/an']);
    expect((await fresh.readCurrent(['l/e/an', 'l/e/none'])).get('l/e/an')?.revision).toBe(revision);
    expect((await fresh.getRevision('l/e/an', revision))?.bytes.toString()).toBe('lean\n');
    expect(await fresh.statRevision('l/e/an', revision)).toEqual({ mediaType: 'text/plain', size: 5 });
    const requests = recorder.stop();
    expect(requests).toHaveLength(5);
    // Signed by this path, not the SDK (which s3rver would also accept): nothing fell back.
    for (const request of requests) expect(request.headers['user-agent']).toBe('statics');

    // A bucket that is not there is the SDK's to explain.
    const missing = new S3Store({ bucket: 'no-such-bucket-here', prefix: '', endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials });
    stores.push(missing);
    await expect(missing.listCurrent()).rejects.toMatchObject({ code: 'store', message: expect.stringMatching(/bucket "no-such-bucket-here" does not exist/) });
    // So are credentials it refuses.
    const refused = new S3Store({ bucket: BUCKET, prefix: 'lean', endpoint: s3.endpoint, region: s3.region, credentials: { accessKeyId: 'NOPE', secretAccessKey: 'nope' } });
    stores.push(refused);
    await expect(refused.readCurrent(['l/e/an'])).rejects.toMatchObject({ code: 'store' });
  });
});

describe('a listing in pages', () => {
  it('settles a document only once its current (or its absence) is certain, in both layouts', async () => {
    for (const layout of ['nested', 'split'] as const) {
      // Names whose order differs between keys and folders: `c-x/` sorts before `c/` in S3.
      // Enough for two pages: of pointers and revisions (nested) or of pointers alone (split).
      const ids = Array.from({ length: layout === 'nested' ? 200 : 520 }, (_, i) => [`c${i}`, `c${i}-x`, `c${i}.y`]).flat();
      const store = open(`paged-${layout}`);
      await store.useLayout(layout);
      const withCurrent = new Set<string>();
      if (layout === 'split') {
        // s3rver walks `c0/` before `c0-x/` and pages by byte order, so a page ending inside such
        // a group loses keys (real S3 does not). One more key keeps the split store's page
        // boundary between groups: after the marker, 998 pointers, 499 whole groups.
        await publish(store, 'b/t/solo', 'solo\n');
        withCurrent.add('b/t/solo');
      }
      await mapConcurrent(ids, 16, async (id, index) => {
        const key = `d/t/${id}`;
        for (let version = 0; version < (layout === 'nested' ? 2 : 0); version++) {
          const { bytes, revision } = revisionOf(`${key} ${version}\n`);
          await store.putRevision(key, revision, bytes, { mediaType: 'text/plain', size: bytes.length }, {});
        }
        // Every third document has revisions but no current.
        if (index % 3 !== 2) {
          await publish(store, key, `${key} 1\n`);
          withCurrent.add(key);
        }
      });
      let pages = 0;
      const checked = new Set<string>();
      const listing = await open(`paged-${layout}`).listCurrent({
        onProgress(partial, settled) {
          pages++;
          for (const id of ids) {
            const key = `d/t/${id}`;
            if (!settled(key)) continue;
            expect(partial.has(key), `${layout} ${key}`).toBe(withCurrent.has(key));
            checked.add(key);
          }
        },
      });
      expect([...listing.keys()].sort(), layout).toEqual([...withCurrent].sort());
      expect(pages, layout).toBeGreaterThan(0);
      expect(checked.size, layout).toBeGreaterThan(100);
    }
  }, 120_000);
});
