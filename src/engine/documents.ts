/** Reading one document, its history, and moving `current` back to an earlier revision. */
import { StaticsError } from '../errors.js';
import { shortRevision } from '../keys.js';
import type { EntryResult, PlanEntry, Transition } from '../model.js';
import type { Coordinator } from '../coord/types.js';
import type { RevisionStore, StoredRevision } from '../store/types.js';
import { applyEntry, type ApplyOptions } from './apply.js';

/** The document as `current` (or the given revision, or a unique prefix of it) has it. */
export async function readDocument(store: RevisionStore, key: string, revision?: string): Promise<StoredRevision> {
  const wanted = revision ? await resolveRevision(store, key, revision) : (await store.readCurrent([key])).get(key)?.revision;
  if (!wanted) throw new StaticsError('not-found', `${key} has no current revision in ${store.description}`);
  const stored = await store.getRevision(key, wanted);
  if (!stored) throw new StaticsError('not-found', `${key}: revision ${wanted} is not stored`);
  return stored;
}

export async function documentHistory(store: RevisionStore, key: string): Promise<{ current: string | null; transitions: Transition[] }> {
  const [records, transitions] = await Promise.all([store.readCurrent([key]), store.history(key)]);
  const current = records.get(key)?.revision ?? null;
  if (!current && transitions.length === 0 && (await store.listRevisions(key)).length === 0) {
    throw new StaticsError('not-found', `${key} is not in ${store.description}`);
  }
  return { current, transitions };
}

/** A full revision from a unique prefix of its digest (at least 4 hex digits). */
export async function resolveRevision(store: RevisionStore, key: string, prefix: string): Promise<string> {
  const wanted = prefix.toLowerCase();
  if (!/^[0-9a-f]{4,64}$/.test(wanted)) {
    throw new StaticsError('usage', `"${prefix}" is not a revision: give its sha256, or a unique prefix of at least 4 hex digits`);
  }
  const matches = (await store.listRevisions(key)).filter((revision) => revision.startsWith(wanted));
  if (matches.length === 0) throw new StaticsError('not-found', `${key} has no stored revision starting with ${wanted}`);
  if (matches.length > 1) {
    throw new StaticsError('usage', `revision prefix ${wanted} of ${key} is ambiguous: ${matches.map(shortRevision).join(', ')}`);
  }
  return matches[0]!;
}

/** Moves `current` back to a stored revision, under the same lock and checks as apply. */
export async function rollback(
  store: RevisionStore,
  coord: Coordinator,
  key: string,
  to: string,
  options: Omit<ApplyOptions, 'onProgress'>,
): Promise<EntryResult> {
  const target = await resolveRevision(store, key, to);
  const [info, records] = await Promise.all([store.statRevision(key, target), store.readCurrent([key])]);
  const base = records.get(key)?.revision ?? null;
  const entry: PlanEntry & { action: 'create' | 'update' } = {
    key,
    action: base === null ? 'create' : 'update',
    base,
    revision: target,
    mediaType: info?.mediaType ?? 'application/octet-stream',
    kind: 'binary',
    size: info?.size ?? 0,
  };
  return applyEntry(entry, store, coord, { ...options, operation: `rollback to ${shortRevision(target)}`, transitionAction: 'rollback' });
}
