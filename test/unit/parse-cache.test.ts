/**
 * The parse cache: a hit only for the very same bytes, place, schemas and code; never a reason to
 * skip a check that could now fail; hints that a plan uses only where the store confirms them.
 */
import fs from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_DESIRED_SETTINGS, ParseCache, readDesired, type DesiredRead, type DesiredSettings } from '../../src/desired/index.js';
import { createPlan, type PlanOptions } from '../../src/engine/plan.js';
import { formatProblem } from '../../src/errors.js';
import { LocalStore } from '../../src/store/local.js';
import type { CurrentListing, RevisionStore } from '../../src/store/types.js';
import { LocalCoordinator } from '../../src/coord/local.js';
import { applyPlan } from '../../src/engine/apply.js';
import { loadSchemas } from '../../src/validate/schemas.js';

const realOpenSync = fs.openSync;

const temps: string[] = [];
afterEach(async () => {
  while (temps.length) await rm(temps.pop()!, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'statics-cache-'));
  temps.push(dir);
  return dir;
}

async function writeFiles(root: string, files: Record<string, string>): Promise<void> {
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), content);
  }
}

const FLAGS_SCHEMA = JSON.stringify({ type: 'object', required: ['enabled'], properties: { enabled: { type: 'boolean' } } });

async function read(root: string, settings: DesiredSettings): Promise<{ known: string[]; parsed: string[]; problems: string[] }> {
  const result = { known: [] as string[], parsed: [] as string[], problems: [] as string[] };
  for await (const item of readDesired(root, settings, { settle: () => true, threads: 0 }) as AsyncGenerator<DesiredRead>) {
    if ('problem' in item) result.problems.push(formatProblem(item.problem));
    else if ('known' in item) result.known.push(`${item.known.key} ${item.known.revision} ${item.known.size}`);
    else result.parsed.push(`${item.document.key} ${item.document.revision} ${item.document.size}`);
  }
  return result;
}

describe('parse cache', () => {
  it('knows a file it parsed, until its bytes change, even behind its back', async () => {
    const root = await tempDir();
    const settings = { ...DEFAULT_DESIRED_SETTINGS, cacheDir: await tempDir() };
    await writeFiles(root, {
      'schemas/flags.schema.json': FLAGS_SCHEMA,
      'documents/p/flags/a.yaml': 'enabled: true\n',
      'documents/p/flags/b.yaml': 'enabled: false\n',
      'documents/p/robots/r.txt': 'User-agent: *\n',
    });
    const first = await read(root, settings);
    expect(first.known).toEqual([]);
    expect(first.parsed).toHaveLength(3);

    const second = await read(root, settings);
    // Same revisions and sizes as parsing gave; raw files are always read (hashing is all they need).
    expect(second.known).toEqual(first.parsed.filter((line) => line.includes('/flags/')));
    expect(second.parsed).toEqual(first.parsed.filter((line) => line.includes('/robots/')));

    // Same length, same folder: only the bytes differ.
    // Same length, same folder, even the same value: only the bytes differ, so it is parsed again.
    await writeFile(path.join(root, 'documents/p/flags/a.yaml'), 'enabled: TRUE\n');
    const third = await read(root, settings);
    expect(third.known.map((line) => line.split(' ')[0])).toEqual(['p/flags/b']);
    expect(third.parsed).toEqual([first.parsed[0], first.parsed[2]]);
  });

  it('never hides a problem: a schema change invalidates what was valid', async () => {
    const root = await tempDir();
    const settings = { ...DEFAULT_DESIRED_SETTINGS, cacheDir: await tempDir() };
    await writeFiles(root, { 'schemas/flags.schema.json': FLAGS_SCHEMA, 'documents/p/flags/a.yaml': 'enabled: true\ncolour: red\n' });
    expect((await read(root, settings)).problems).toEqual([]);
    expect((await read(root, settings)).known).toHaveLength(1);
    await writeFile(path.join(root, 'schemas/flags.schema.json'), JSON.stringify({ type: 'object', additionalProperties: false, properties: { enabled: { type: 'boolean' } } }));
    const after = await read(root, settings);
    expect(after.known).toEqual([]);
    expect(after.problems).toEqual(['documents/p/flags/a.yaml:2:1: unknown property "colour"']);
    // Invalid files are not cached: the problem is reported every time.
    expect((await read(root, settings)).problems).toHaveLength(1);
  });

  it('keys by place too: the same bytes under another type are checked against that type', async () => {
    const root = await tempDir();
    const settings = { ...DEFAULT_DESIRED_SETTINGS, cacheDir: await tempDir() };
    await writeFiles(root, { 'schemas/flags.schema.json': FLAGS_SCHEMA, 'documents/p/other/a.yaml': 'enabled: 1\n' });
    expect((await read(root, settings)).problems).toEqual([]);
    await rm(path.join(root, 'documents/p/other'), { recursive: true });
    await writeFiles(root, { 'documents/p/flags/a.yaml': 'enabled: 1\n' });
    expect((await read(root, settings)).problems).toEqual(['documents/p/flags/a.yaml:1:10: enabled: must be boolean']);
  });

  it('reads a damaged or foreign cache file as empty, and rewrites it', async () => {
    const root = await tempDir();
    const cacheDir = await tempDir();
    const settings = { ...DEFAULT_DESIRED_SETTINGS, cacheDir };
    await writeFiles(root, { 'documents/p/x/a.yaml': 'a: 1\n' });
    await read(root, settings);
    const [file] = await readdir(cacheDir);
    await writeFile(path.join(cacheDir, file!), 'not a cache');
    expect((await read(root, settings)).known).toEqual([]);
    expect((await read(root, settings)).known).toHaveLength(1);
  });

  it('round-trips results and hints; results only for the same schemas', async () => {
    const dir = await tempDir();
    const root = await tempDir();
    const cache = (await ParseCache.open(dir, root, 'schemas-1'))!;
    const file = { key: 'a/b/c', domain: 'a', type: 'b', id: 'c', ext: 'yaml', path: 'documents/a/b/c.yaml', absolutePath: '' };
    const key = cache.keyOf(file, Buffer.from('x: 1\n'));
    cache.set(key, { revision: 'e'.repeat(64), size: 12 });
    cache.setHints('a/b/c', ['1'.repeat(64), null, 'not a revision', '2'.repeat(64)]);
    await cache.save();
    const again = (await ParseCache.open(dir, root, 'schemas-1'))!;
    expect(again.get(again.keyOf(file, Buffer.from('x: 1\n')))).toEqual({ revision: 'e'.repeat(64), size: 12 });
    expect(again.get(again.keyOf({ ...file, ext: 'json' }, Buffer.from('x: 1\n')))).toBeUndefined();
    expect(again.hintsFor('a/b/c')).toEqual(['1'.repeat(64), '2'.repeat(64)]);
    const otherSchemas = (await ParseCache.open(dir, root, 'schemas-2'))!;
    expect(otherSchemas.get(otherSchemas.keyOf(file, Buffer.from('x: 1\n')))).toBeUndefined();
    expect(otherSchemas.hintsFor('a/b/c')).toEqual(['1'.repeat(64), '2'.repeat(64)]);
  });
});

describe('parse cache: files known by their stat', () => {
  /** Reads with a cache whose clock runs `aheadMs` ahead: files written just now look that old. */
  async function readWithClock(root: string, cacheDir: string, aheadMs: number): Promise<{ known: string[]; parsed: string[]; opened: string[] }> {
    const { schemas } = await loadSchemas(root);
    const cache = (await ParseCache.open(cacheDir, root, schemas.digest, { now: () => Date.now() + aheadMs }))!;
    const opened: string[] = [];
    const open = vi.spyOn(fs, 'openSync').mockImplementation(((file: fs.PathLike, ...rest: unknown[]) => {
      opened.push(path.relative(root, String(file)));
      return realOpenSync(file, ...(rest as [fs.OpenMode]));
    }) as typeof fs.openSync);
    const result = { known: [] as string[], parsed: [] as string[], opened };
    try {
      for await (const item of readDesired(root, DEFAULT_DESIRED_SETTINGS, { settle: () => true, threads: 0, schemas, cache })) {
        if ('problem' in item) throw new Error(formatProblem(item.problem));
        if ('known' in item) result.known.push(`${item.known.key} ${item.known.revision}`);
        else result.parsed.push(`${item.document.key} ${item.document.revision}`);
      }
    } finally {
      open.mockRestore();
    }
    await cache.save();
    return result;
  }

  it('does not read a file again while its stat is unchanged, and sees any write, even one that restores size and modified time', async () => {
    const root = await tempDir();
    const cacheDir = await tempDir();
    await writeFiles(root, { 'schemas/flags.schema.json': FLAGS_SCHEMA, 'documents/p/flags/a.yaml': 'enabled: true\n', 'documents/p/flags/b.yaml': 'enabled: false\n' });
    // Whole seconds, so the modified time can be put back exactly below.
    const file = path.join(root, 'documents/p/flags/a.yaml');
    const longAgo = new Date('2026-01-01T00:00:00Z');
    await utimes(file, longAgo, longAgo);
    const first = await readWithClock(root, cacheDir, 60_000);
    expect(first.parsed).toHaveLength(2);
    expect(first.opened).toEqual(['documents/p/flags/a.yaml', 'documents/p/flags/b.yaml']);

    // A new cache object, from the file: the stats were saved with the results.
    const second = await readWithClock(root, cacheDir, 60_000);
    expect(second.known).toEqual(first.parsed);
    expect(second.opened).toEqual([]);

    // Same length, and the modified time put back: only the changed time (which no one can set) tells.
    const before = await stat(file);
    await writeFile(file, 'enabled: TRUE\n');
    await utimes(file, longAgo, longAgo);
    const after = await stat(file);
    expect([after.size, after.mtimeMs, after.ino]).toEqual([before.size, before.mtimeMs, before.ino]);
    const third = await readWithClock(root, cacheDir, 60_000);
    expect(third.opened).toEqual(['documents/p/flags/a.yaml']);
    expect(third.known).toEqual([first.parsed[1]]);
    expect(third.parsed).toEqual([first.parsed[0]]);
  });

  it('keeps no stat of a file written within the last two seconds: it is read every time', async () => {
    const root = await tempDir();
    const cacheDir = await tempDir();
    await writeFiles(root, { 'schemas/flags.schema.json': FLAGS_SCHEMA, 'documents/p/flags/a.yaml': 'enabled: true\n' });
    expect((await readWithClock(root, cacheDir, 0)).parsed).toHaveLength(1);
    const again = await readWithClock(root, cacheDir, 0);
    // Known by its bytes (read and hashed), never by its stat.
    expect(again.known).toHaveLength(1);
    expect(again.opened).toEqual(['documents/p/flags/a.yaml']);
  });
});

/** A local store whose listing, like S3's, only confirms revisions (by ETag) and never names them. */
class EtagOnlyStore extends LocalStore {
  reads: string[] = [];
  private listing = false;
  override async listCurrent(): Promise<Map<string, CurrentListing>> {
    this.listing = true;
    try {
      const listing = await super.listCurrent();
      return new Map([...listing].map(([key, entry]) => [key, { key, confirms: entry.confirms }]));
    } finally {
      this.listing = false;
    }
  }
  override async readCurrent(keys: readonly string[]) {
    if (!this.listing) this.reads.push(...keys);
    return super.readCurrent(keys);
  }
}

describe('plan with the parse cache', () => {
  async function setup() {
    const root = await tempDir();
    await writeFiles(root, {
      'schemas/flags.schema.json': FLAGS_SCHEMA,
      ...Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`documents/p/flags/f${i}.yaml`, `enabled: ${i % 2 === 0}\n`])),
    });
    const store = new EtagOnlyStore(path.join(root, '.statics'));
    const options: PlanOptions = {
      dir: root,
      desired: { ...DEFAULT_DESIRED_SETTINGS, cacheDir: await tempDir() },
      prune: false,
      targets: [],
      deleteGuard: 0.5,
      allowMassDelete: false,
      toolVersion: 'test',
    };
    const coord = new LocalCoordinator(store.root, { ttlMs: 10_000 });
    return { root, store, options, coord };
  }

  it('gives the same plan with and without the cache, and names bases from confirmed hints only', async () => {
    const { root, store, options, coord } = await setup();
    await applyPlan(await createPlan(store, options), store, coord, { parallelism: 4, lockTimeoutMs: 5_000 });
    await writeFile(path.join(root, 'documents/p/flags/f1.yaml'), 'enabled: true\n');
    await writeFile(path.join(root, 'documents/p/flags/f2.yaml'), 'enabled: false\n');

    store.reads = [];
    const cached = await createPlan(store, options);
    // The cached plan knew both bases from the revisions its predecessor saw, confirmed by the listing.
    expect(store.reads).toEqual([]);
    const uncached = await createPlan(store, { ...options, desired: { ...options.desired, cacheDir: undefined } });
    expect(store.reads.sort()).toEqual(['p/flags/f1', 'p/flags/f2']);
    const strip = (plan: typeof cached) => ({ ...plan, createdAt: '' });
    expect(strip(cached)).toEqual(strip(uncached));
    expect(cached.summary).toEqual({ create: 0, update: 2, delete: 0, unchanged: 4 });
  });

  it('never calls a document unchanged when current moved behind the cache', async () => {
    const { store, options, coord } = await setup();
    const first = await createPlan(store, options);
    await applyPlan(first, store, coord, { parallelism: 4, lockTimeoutMs: 5_000 });
    expect((await createPlan(store, options)).summary.unchanged).toBe(6);
    // Someone else moves f3 to other content (rollback, another branch): the file did not change.
    const other = Buffer.from('{\n  "enabled": true,\n  "moved": 1\n}\n');
    const { createHash } = await import('node:crypto');
    const revision = createHash('sha256').update(other).digest('hex');
    await store.putRevision('p/flags/f3', revision, other, { mediaType: 'application/json', size: other.length }, {});
    const [current] = (await store.readCurrent(['p/flags/f3'])).values();
    await store.setCurrent('p/flags/f3', { revision, previous: current!.revision, at: new Date().toISOString(), action: 'rollback' }, current!);
    store.reads = [];
    const plan = await createPlan(store, options);
    expect(plan.summary).toEqual({ create: 0, update: 1, delete: 0, unchanged: 5 });
    // The revision seen last is not current any more: the listing does not confirm it, so it is read.
    expect(store.reads).toEqual(['p/flags/f3']);
    expect(plan.entries.find((entry) => entry.key === 'p/flags/f3')).toMatchObject({ action: 'update', base: revision });
  });
});
