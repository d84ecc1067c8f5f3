import { mkdtemp, rm, utimes, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalCoordinator } from '../../src/coord/local.js';
import { applyPlan } from '../../src/engine/apply.js';
import { describeChange } from '../../src/engine/change.js';
import { planIdentity } from '../../src/engine/identity.js';
import { createPlan, type PlanOptions } from '../../src/engine/plan.js';
import { targetMatcher } from '../../src/engine/targets.js';
import { StaticsError } from '../../src/errors.js';
import type { PlanEntry } from '../../src/model.js';
import { LocalStore } from '../../src/store/local.js';

const temps: string[] = [];
afterEach(async () => {
  while (temps.length) await rm(temps.pop()!, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'statics-unit-'));
  temps.push(dir);
  return dir;
}

async function writeFiles(root: string, files: Record<string, string>): Promise<void> {
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), content);
  }
}

function entry(key: string, action: PlanEntry['action'], base: string | null, revision: string | null): PlanEntry {
  return { key, action, base, revision, mediaType: 'application/json', kind: 'structured', size: 1 };
}

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

describe('plan identity', () => {
  it('depends on changes only, not on their order or on unchanged documents', () => {
    const changes = [entry('x/y/1', 'update', A, B), entry('x/y/2', 'create', null, A)];
    const id = planIdentity(changes);
    expect(planIdentity([...changes].reverse())).toBe(id);
    expect(planIdentity([...changes, entry('x/y/3', 'no-op', A, A)])).toBe(id);
    expect(planIdentity([entry('x/y/1', 'update', B, B), changes[1]!])).not.toBe(id);
    expect(planIdentity([changes[0]!, entry('x/y/2', 'delete', A, null)])).not.toBe(id);
    expect(id).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('--target globs', () => {
  it('match keys, domains and domain/type', () => {
    expect(targetMatcher([])('a/b/c')).toBe(true);
    const payments = targetMatcher(['payments']);
    expect(payments('payments/flags/x')).toBe(true);
    expect(payments('search/flags/x')).toBe(false);
    const flags = targetMatcher(['*/flags']);
    expect(flags('payments/flags/x')).toBe(true);
    expect(flags('payments/limits/x')).toBe(false);
    const ids = targetMatcher(['payments/flags/check*', 'search/**']);
    expect(ids('payments/flags/checkout')).toBe(true);
    expect(ids('payments/flags/refunds')).toBe(false);
    expect(ids('search/blocklist/q')).toBe(true);
  });
});

describe('changes', () => {
  it('describe structured updates as JSON Patch with the old values', () => {
    const before = Buffer.from(JSON.stringify({ a: 1, list: [1, 2], gone: true }));
    const after = Buffer.from(JSON.stringify({ a: 2, list: [1, 2, 3] }));
    const change = describeChange({ bytes: before, kind: 'structured', summary: null }, { bytes: after, kind: 'structured', summary: null });
    expect(change.kind).toBe('json-patch');
    if (change.kind !== 'json-patch') return;
    expect(change.patch).toContainEqual({ op: 'replace', path: '/a', value: 2, oldValue: 1 });
    expect(change.patch).toContainEqual({ op: 'remove', path: '/gone', oldValue: true });
    expect(change.patch).toContainEqual({ op: 'add', path: '/list/2', value: 3 });
  });

  it('count added and removed lines of a text diff, not its header', () => {
    const change = describeChange(
      { bytes: Buffer.from('one\ntwo\n'), kind: 'text', summary: null },
      { bytes: Buffer.from('one\nthree\nfour\n'), kind: 'text', summary: null },
    );
    expect(change).toMatchObject({ kind: 'text', added: 2, removed: 1 });
  });

  it('summarise binary content by size and digest', () => {
    const change = describeChange(
      { bytes: Buffer.from([0, 255]), kind: 'binary', summary: { size: 2, sha256: A } },
      { bytes: Buffer.from([1]), kind: 'binary', summary: { size: 1, sha256: B } },
    );
    expect(change).toEqual({ kind: 'binary', before: { size: 2, sha256: A }, after: { size: 1, sha256: B } });
  });
});

describe('plan and apply on the embedded store', () => {
  async function setup(files: Record<string, string>) {
    const repo = await tempDir();
    await writeFiles(repo, files);
    const store = new LocalStore(path.join(repo, '.statics'));
    const coord = new LocalCoordinator(store.root, { ttlMs: 5_000 });
    const options: PlanOptions = {
      dir: repo,
      desired: { maxFileBytes: 1 << 20, mediaTypes: {} },
      prune: false,
      targets: [],
      deleteGuard: 0.5,
      allowMassDelete: false,
      toolVersion: 'test',
    };
    const apply = (plan: Awaited<ReturnType<typeof createPlan>>) => applyPlan(plan, store, coord, { parallelism: 4, lockTimeoutMs: 2_000 });
    return { repo, store, coord, options, apply };
  }

  it('reports a document moved since the plan as stale and one already written as already current', async () => {
    const { repo, store, options, apply } = await setup({ 'documents/a/t/one.json': '{"v":1}', 'documents/a/t/two.json': '{"v":1}' });
    const first = await createPlan(store, options);
    const second = await createPlan(store, options);
    expect((await apply(first)).summary.applied).toBe(2);
    // The same plan again: the writes are there already.
    const again = await apply(second);
    expect(again.summary).toMatchObject({ applied: 0, alreadyCurrent: 2, stale: 0 });
    expect(again.ok).toBe(true);

    await writeFile(path.join(repo, 'documents/a/t/one.json'), '{"v":2}');
    const planned = await createPlan(store, options);
    await writeFile(path.join(repo, 'documents/a/t/one.json'), '{"v":3}');
    await apply(await createPlan(store, options));
    const stale = await apply(planned);
    expect(stale.ok).toBe(false);
    expect(stale.results[0]).toMatchObject({ key: 'a/t/one', outcome: 'stale' });
    expect(stale.results[0]!.actual).toBe((await store.readCurrent(['a/t/one'])).get('a/t/one')!.revision);
  });

  it('plans more documents than it compares at once: every one, each with its diff', async () => {
    const count = 1300; // above the number of comparisons that wait for the listing at a time
    const files: Record<string, string> = {};
    for (let i = 0; i < count; i++) files[`documents/a/t/d${i}.json`] = JSON.stringify({ v: 1, i });
    const { repo, store, options, apply } = await setup(files);
    const created = await createPlan(store, options);
    expect(created.summary).toEqual({ create: count, update: 0, delete: 0, unchanged: 0 });
    expect((await apply(created)).summary.applied).toBe(count);
    for (let i = 0; i < count; i += 2) await writeFile(path.join(repo, `documents/a/t/d${i}.json`), JSON.stringify({ v: 2, i }));
    const updated = await createPlan(store, options);
    expect(updated.summary).toEqual({ create: 0, update: count / 2, delete: 0, unchanged: count / 2 });
    expect(updated.entries.map((e) => e.key)).toEqual([...updated.entries.map((e) => e.key)].sort());
    for (const planned of updated.entries.filter((e) => e.action === 'update')) {
      expect(planned.change).toMatchObject({ kind: 'json-patch', patch: [{ op: 'replace', path: '/v', value: 2, oldValue: 1 }] });
    }
  });

  it('refuses to write content that does not match its revision', async () => {
    const { store, options, apply } = await setup({ 'documents/a/t/one.json': '{"v":1}' });
    const plan = await createPlan(store, options);
    plan.entries[0]!.content = { encoding: 'utf8', data: '{"v":666}' };
    const report = await apply(plan);
    expect(report.results[0]).toMatchObject({ outcome: 'failed' });
    expect(report.results[0]!.error).toMatch(/does not match its revision/);
    expect((await store.readCurrent(['a/t/one'])).get('a/t/one')).toBeNull();
    expect(await store.listRevisions('a/t/one')).toEqual([]);
  });

  it('guards deletions by share and refuses deleting everything', async () => {
    const files = Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`documents/a/t/d${i}.json`, `{"i":${i}}`]));
    const { repo, store, options, apply } = await setup(files);
    await apply(await createPlan(store, options));
    await rm(path.join(repo, 'documents/a/t/d0.json'));
    await rm(path.join(repo, 'documents/a/t/d1.json'));
    await rm(path.join(repo, 'documents/a/t/d2.json'));
    await expect(createPlan(store, { ...options, prune: true })).rejects.toThrow(/deletes 3 of 4 documents/);
    const allowed = await createPlan(store, { ...options, prune: true, allowMassDelete: true });
    expect(allowed.summary).toMatchObject({ delete: 3, unchanged: 1 });
    // Out of scope for --target: not deleted, not counted.
    const scoped = await createPlan(store, { ...options, prune: true, targets: ['a/t/d0'] });
    expect(scoped.summary.delete).toBe(1);
  });
});

describe('local locks', () => {
  it('are exclusive, time out naming the holder, and are released only by their holder', async () => {
    const root = await tempDir();
    const coord = new LocalCoordinator(root, { ttlMs: 10_000 });
    const lock = await coord.acquire('a/b/c', { operation: 'apply test', timeoutMs: 100 });
    const error = await coord.acquire('a/b/c', { operation: 'second', timeoutMs: 150 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StaticsError);
    expect((error as StaticsError).code).toBe('lock-timeout');
    expect((error as StaticsError).message).toMatch(/held by apply test/);
    await lock.assertHeld();
    await lock.release();
    const next = await coord.acquire('a/b/c', { operation: 'third', timeoutMs: 100 });
    await lock.release(); // a second release of the old lock must not remove the new one
    expect((await coord.lockInfo('a/b/c'))?.owner?.operation).toBe('third');
    await next.release();
    expect(await coord.lockInfo('a/b/c')).toBeNull();
  });

  it('break an expired lock, and its old holder learns it lost it', async () => {
    const root = await tempDir();
    const coord = new LocalCoordinator(root, { ttlMs: 60_000 });
    const stalled = await coord.acquire('a/b/c', { operation: 'stalled', timeoutMs: 100 });
    // Age the lock file as if its holder had stopped renewing long ago.
    const past = new Date(Date.now() - 120_000);
    await utimes(path.join(root, '.locks', 'a:b:c.lock'), past, past);
    const taker = await coord.acquire('a/b/c', { operation: 'taker', timeoutMs: 2_000 });
    await expect(stalled.assertHeld()).rejects.toThrow(/lost the lock/);
    await stalled.release();
    expect((await coord.lockInfo('a/b/c'))?.owner?.operation).toBe('taker');
    await taker.release();
  });
});
