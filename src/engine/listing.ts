/**
 * The store listing a plan rests on, started apart from the plan itself: the listing is the
 * slow, remote half of a plan, so a front end may start it before it has read settings or loaded
 * the rest of the engine, and hand it to createPlan. Light on purpose: nothing here loads the
 * parser or the validator.
 */
import { compareCodePoints } from '../desired/canonical.js';
import type { CurrentListing, RevisionStore } from '../store/types.js';

/** A listing of every `current` in a store, on its way. */
export interface StartedListing {
  /** What it has said so far, page by page. */
  progress: ListingProgress;
  /** The keys the walk found, for the listing to size its last pages by; set by the plan. */
  walked: WalkedKeys;
  /** The whole listing. */
  result: Promise<Map<string, CurrentListing>>;
  /** Settles once the first request is on the wire, or the listing is over. */
  sent: Promise<void>;
}

/**
 * Starts listing `store`. With targets, the store holds documents the walk does not count, so
 * the listing is not told how many are still to come.
 */
export function startListing(store: RevisionStore, options: { targets: readonly string[] }): StartedListing {
  const progress = new ListingProgress();
  const walked = new WalkedKeys();
  let sent!: () => void;
  const requestSent = new Promise<void>((resolve) => (sent = resolve));
  const result = store.listCurrent({
    onProgress: (listing, settled) => progress.update(listing, settled),
    onSent: () => sent(),
    ...(options.targets.length === 0 ? { expectedAfter: (key: string) => walked.countAfter(key) } : {}),
  });
  result.then(
    (listing) => progress.update(listing, () => true),
    (error: unknown) => progress.fail(error),
  );
  return { progress, walked, result, sent: Promise.race([requestSent, result.then(() => {}, () => {})]) };
}

/** What the listing has said so far, and who is waiting to hear about which key. */
export class ListingProgress {
  private listing: ReadonlyMap<string, CurrentListing> | undefined;
  private settled: (key: string) => boolean = () => false;
  private failure: { error: unknown } | undefined;
  private waiters: Array<{ key: string; resolve(listing: ReadonlyMap<string, CurrentListing>): void; reject(error: unknown): void }> = [];

  /** The listing once it has settled `key`: at once when it has, else a promise. */
  when(key: string): ReadonlyMap<string, CurrentListing> | Promise<ReadonlyMap<string, CurrentListing>> {
    if (this.failure) return Promise.reject(this.failure.error);
    if (this.listing && this.settled(key)) return this.listing;
    return new Promise((resolve, reject) => this.waiters.push({ key, resolve, reject }));
  }

  update(listing: ReadonlyMap<string, CurrentListing>, settled: (key: string) => boolean): void {
    this.listing = listing;
    this.settled = settled;
    const waiting = this.waiters;
    this.waiters = [];
    for (const waiter of waiting) {
      if (settled(waiter.key)) waiter.resolve(listing);
      else this.waiters.push(waiter);
    }
  }

  fail(error: unknown): void {
    this.failure = { error };
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }
}

/** The document keys the walk found, in listing order (`<key>/…`), to count those after a key. */
export class WalkedKeys {
  private sorted: string[] | undefined;

  set(keys: readonly string[]): void {
    this.sorted = keys.map((key) => `${key}/`).sort(compareCodePoints);
  }

  /** How many sort after `key`; undefined until the walk is done. */
  countAfter(key: string): number | undefined {
    const sorted = this.sorted;
    if (!sorted) return undefined;
    const folder = `${key}/`;
    let low = 0;
    let high = sorted.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareCodePoints(sorted[middle]!, folder) <= 0) low = middle + 1;
      else high = middle;
    }
    return sorted.length - low;
  }
}

