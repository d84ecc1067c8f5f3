/** The revision store: immutable revisions plus a movable `current` pointer per document. */
import type { Provenance, Transition } from '../model.js';

/** `current` as read authoritatively. */
export interface CurrentRecord {
  revision: string;
  /** Newest first; bounded. */
  transitions: Transition[];
  /** The store's version tag of `current`, for conditional writes where supported. */
  tag?: string;
}

/** What one listing of the store says about a document's `current`, without reading it. */
export interface CurrentListing {
  key: string;
  /** Present when the listing itself names the revision. */
  revision?: string;
  /** True when the listing proves `current` is this revision (e.g. by its ETag). */
  confirms(revision: string): boolean;
}

export interface ListOptions {
  onProgress?(listing: ReadonlyMap<string, CurrentListing>, settled: (key: string) => boolean): void;
  /**
   * Called once the first request of the listing is on the wire (at once by a store that lists
   * locally), so a caller can start CPU-bound work without holding the request back.
   */
  onSent?(): void;
  /**
   * How many documents the caller expects after `key` (in listing order), when it knows: a store
   * that lists in pages may then ask for no more than that, instead of a whole page that would
   * run on past the documents (into revisions, say). A guess: too low costs a request, no more.
   */
  expectedAfter?(key: string): number | undefined;
}

export interface StoredRevision {
  revision: string;
  bytes: Buffer;
  mediaType: string;
  provenance: Provenance;
}

export interface RevisionInfo {
  mediaType: string;
  size: number;
}

export interface RevisionStore {
  /** Where this store is, safe to print (no credentials). */
  readonly description: string;

  /**
   * One pass over the store: every document that has a `current`, by key. `onProgress`, where
   * the store lists in pages, is called after each with the entries so far and a test of which
   * keys are settled already (listed, or certainly absent), so a caller can start on those.
   */
  listCurrent(options?: ListOptions): Promise<Map<string, CurrentListing>>;

  /** Reads `current` of many documents at once (concurrently where it costs a round trip each). */
  readCurrent(keys: readonly string[]): Promise<Map<string, CurrentRecord | null>>;

  /** Writes an immutable revision; writing one that exists is a no-op. */
  putRevision(key: string, revision: string, bytes: Buffer, info: RevisionInfo, provenance: Provenance): Promise<void>;

  /** Size and media type of a stored revision, or null when absent. */
  statRevision(key: string, revision: string): Promise<RevisionInfo | null>;

  getRevision(key: string, revision: string): Promise<StoredRevision | null>;

  /** Every stored revision of a document (unordered). */
  listRevisions(key: string): Promise<string[]>;

  /**
   * Moves `current` to `transition.revision`, recording the transition. `expected` is what the
   * caller read under its lock: a store that can fence on it (If-Match) refuses when it moved.
   * Returns `current` as now stored (its transitions trimmed as the store keeps them).
   */
  setCurrent(key: string, transition: Transition, expected: CurrentRecord | null): Promise<CurrentRecord>;

  /** Removes `current` (revisions stay), recording the transition where history survives it. */
  deleteCurrent(key: string, transition: Transition, expected: CurrentRecord): Promise<void>;

  /** Transitions of a document, newest first, including ones from before a delete where kept. */
  history(key: string): Promise<Transition[]>;

  close(): Promise<void>;
}

/** How many transitions `current` carries; S3 metadata is limited to 2 KB. */
export const TRANSITIONS_KEPT = 8;

export function nextTransitions(transition: Transition, expected: CurrentRecord | null): Transition[] {
  return [transition, ...(expected?.transitions ?? [])].slice(0, TRANSITIONS_KEPT);
}
