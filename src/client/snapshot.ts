/**
 * The state of the store under a prefix, at the cost plan pays: one listing, which confirms
 * (by ETag) every document whose revision the reader already has, then a read of `current` only
 * for the others. The Redis mirror may name a candidate revision, but only the listing decides.
 */
import type { RevisionStore } from '../store/types.js';

export interface DocumentState {
  revision: string;
  /** When `current` moved to it and from which commit, when the read of `current` said so. */
  at?: string;
  commit?: string;
}

/** Mirror lookups by key; failures are ignored (the store is read instead). */
export type MirrorLookup = (keys: string[]) => Promise<Map<string, string | null>>;

export async function readStoreState(
  store: RevisionStore,
  prefix: string,
  known: ReadonlyMap<string, string | null>,
  mirror?: MirrorLookup,
): Promise<Map<string, DocumentState>> {
  const listing = await store.listCurrent();
  const states = new Map<string, DocumentState>();
  let unresolved: string[] = [];
  for (const [key, entry] of listing) {
    if (!key.startsWith(prefix)) continue;
    const have = known.get(key);
    if (have && entry.confirms(have)) states.set(key, { revision: have });
    else unresolved.push(key);
  }
  if (mirror && unresolved.length > 0) {
    const candidates = await mirror(unresolved).catch(() => new Map<string, string | null>());
    unresolved = unresolved.filter((key) => {
      const candidate = candidates.get(key);
      if (!candidate || !listing.get(key)!.confirms(candidate)) return true;
      states.set(key, { revision: candidate });
      return false;
    });
  }
  for (const [key, state] of await readStates(store, unresolved)) {
    // Gone between the listing and the read: absent.
    if (state) states.set(key, state);
  }
  return states;
}

/** `current` of each key, read authoritatively (null where absent). */
export async function readStates(store: RevisionStore, keys: readonly string[]): Promise<Map<string, DocumentState | null>> {
  const states = new Map<string, DocumentState | null>();
  if (keys.length === 0) return states;
  for (const [key, record] of await store.readCurrent(keys)) {
    if (!record) {
      states.set(key, null);
      continue;
    }
    const state: DocumentState = { revision: record.revision };
    const latest = record.transitions[0];
    if (latest?.revision === record.revision) {
      state.at = latest.at;
      if (latest.commit) state.commit = latest.commit;
    }
    states.set(key, state);
  }
  return states;
}
