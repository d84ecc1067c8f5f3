/**
 * apply, per document: lock → learn `current` (from the coordinator's record where it vouches for
 * it, else from the store) → stale unless it is the plan's base → write the revision (idempotent)
 * → check the lock is still ours → move `current` → mirror, broadcast and record → unlock.
 * Documents are independent; one failure never stops or corrupts another.
 */
import { createHash } from 'node:crypto';
import { StaticsError, messageOf } from '../errors.js';
import type { ApplyReport, ApplySummary, EntryResult, Plan, PlanEntry, Transition } from '../model.js';
import type { ChangeEvent, Coordinator } from '../coord/types.js';
import type { CurrentRecord, RevisionStore } from '../store/types.js';
import { mapConcurrent } from '../util/concurrency.js';

export interface ApplyOptions {
  parallelism: number;
  lockTimeoutMs: number;
  /** Who applies, recorded in each transition (e.g. user@host or a CI run). */
  actor?: string;
  commit?: string;
  /** Called after each document, for progress displays. */
  onProgress?: (done: number, total: number) => void;
  now?: () => Date;
  /** Called after each step of a document's write; lets tests crash or stall at exact points. */
  checkpoint?: (point: ApplyCheckpoint, key: string) => Promise<void> | void;
}

export type ApplyCheckpoint = 'locked' | 'revision-written' | 'current-moved' | 'recorded';

type Actionable = PlanEntry & { action: 'create' | 'update' | 'delete' };

export async function applyPlan(plan: Plan, store: RevisionStore, coord: Coordinator, options: ApplyOptions): Promise<ApplyReport> {
  const actionable = plan.entries.filter((entry): entry is Actionable => entry.action !== 'no-op');
  let done = 0;
  const results = await mapConcurrent(actionable, options.parallelism, async (entry) => {
    const result = await applyEntry(entry, store, coord, { ...options, operation: `apply ${plan.id.slice(0, 12)}`, transitionAction: 'apply' });
    options.onProgress?.(++done, actionable.length);
    return result;
  });
  const repaired = coord.mirrors ? await repairMirror(plan, results, store, coord, options) : 0;
  return report(plan.id, store.description, results, repaired);
}

interface EntryOptions extends ApplyOptions {
  operation: string;
  transitionAction: Transition['action'];
}

export async function applyEntry(entry: Actionable, store: RevisionStore, coord: Coordinator, options: EntryOptions): Promise<EntryResult> {
  const result: EntryResult = { key: entry.key, action: entry.action, outcome: 'failed', base: entry.base, revision: entry.revision };
  let lock;
  try {
    // Bytes are checked before anything is locked or written.
    const bytes = entry.content ? decodeContent(entry) : null;
    lock = await coord.acquire(entry.key, { operation: options.operation, timeoutMs: options.lockTimeoutMs });
    await options.checkpoint?.('locked', entry.key);
    const current = lock.recorded !== undefined ? lock.recorded : ((await store.readCurrent([entry.key])).get(entry.key) ?? null);
    const actual = current?.revision ?? null;
    if (actual === entry.revision) return { ...result, outcome: 'already-current' };
    if (actual !== entry.base) return { ...result, outcome: 'stale', actual };

    const at = (options.now ?? (() => new Date()))().toISOString();
    const transition: Transition = {
      revision: entry.revision,
      previous: actual,
      at,
      action: entry.action === 'delete' ? 'delete' : options.transitionAction,
      ...(options.commit ? { commit: options.commit } : {}),
      ...(options.actor ? { actor: options.actor } : {}),
    };

    let written: CurrentRecord | null = null;
    if (entry.action === 'delete') {
      await lock.assertHeld();
      await store.deleteCurrent(entry.key, transition, current!);
    } else {
      const revision = entry.revision!;
      if (bytes) {
        await store.putRevision(entry.key, revision, bytes, { mediaType: entry.mediaType, size: bytes.length }, {
          ...(options.commit ? { commit: options.commit } : {}),
          ...(entry.path ? { path: entry.path } : {}),
        });
      } else if (!(await store.statRevision(entry.key, revision))) {
        throw new StaticsError('not-found', `revision ${revision} of ${entry.key} is not stored and the plan carries no content`);
      }
      await options.checkpoint?.('revision-written', entry.key);
      // The last moment to notice a lost lock: after this, `current` moves.
      await lock.assertHeld();
      written = await store.setCurrent(entry.key, transition, current);
    }
    await options.checkpoint?.('current-moved', entry.key);
    await lock.recordAndRelease(eventOf(entry.key, transition), written);
    await options.checkpoint?.('recorded', entry.key);
    return { ...result, outcome: 'applied' };
  } catch (error) {
    if (error instanceof StaticsError && error.code === 'stale') return { ...result, outcome: 'stale', error: error.message };
    return { ...result, outcome: 'failed', error: messageOf(error) };
  } finally {
    await lock?.release().catch(() => {});
  }
}

function decodeContent(entry: PlanEntry): Buffer {
  const content = entry.content!;
  const bytes = Buffer.from(content.data, content.encoding);
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (digest !== entry.revision) {
    throw new StaticsError('plan-file', `${entry.key}: the plan's content does not match its revision (sha256 ${digest})`);
  }
  return bytes;
}

function eventOf(key: string, transition: Transition): ChangeEvent {
  return {
    version: 1,
    key,
    action: transition.revision === null ? 'delete' : 'update',
    revision: transition.revision,
    previous: transition.previous,
    at: transition.at,
    ...(transition.commit ? { commit: transition.commit } : {}),
  };
}

/**
 * A crash between moving `current` and mirroring it leaves the mirror behind; this run puts it
 * right. Only keys whose mirror differs are touched, each under its lock and re-read from the store.
 */
async function repairMirror(plan: Plan, results: EntryResult[], store: RevisionStore, coord: Coordinator, options: ApplyOptions): Promise<number> {
  const expected = new Map<string, string | null>();
  for (const entry of plan.entries) if (entry.action === 'no-op') expected.set(entry.key, entry.revision);
  for (const result of results) {
    if (result.outcome === 'applied' || result.outcome === 'already-current') expected.set(result.key, result.revision);
  }
  const mirrored = await coord.readMirror([...expected.keys()]);
  const suspects = [...expected].filter(([key, revision]) => (mirrored.get(key) ?? null) !== revision).map(([key]) => key);
  const repaired = await mapConcurrent(suspects, options.parallelism, async (key) => {
    let lock;
    try {
      lock = await coord.acquire(key, { operation: 'repair mirror', timeoutMs: options.lockTimeoutMs });
      const current = (await store.readCurrent([key])).get(key) ?? null;
      const mirror = (await coord.readMirror([key])).get(key) ?? null;
      const revision = current?.revision ?? null;
      if (mirror === revision) return false;
      const at = (options.now ?? (() => new Date()))().toISOString();
      await lock.recordAndRelease({ version: 1, key, action: revision ? 'update' : 'delete', revision, previous: mirror, at }, current);
      return true;
    } catch {
      // Best effort: the next run tries again; the documents themselves are already right.
      return false;
    } finally {
      await lock?.release().catch(() => {});
    }
  });
  return repaired.filter(Boolean).length;
}

function report(planId: string, store: string, results: EntryResult[], repaired: number): ApplyReport {
  const summary: ApplySummary = { applied: 0, alreadyCurrent: 0, stale: 0, failed: 0, repaired };
  for (const result of results) {
    if (result.outcome === 'applied') summary.applied++;
    else if (result.outcome === 'already-current') summary.alreadyCurrent++;
    else if (result.outcome === 'stale') summary.stale++;
    else summary.failed++;
  }
  return { planId, store, results, summary, ok: summary.stale === 0 && summary.failed === 0 };
}
