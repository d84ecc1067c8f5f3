/** plan = desired documents vs the store's `current`: create, update, delete or no-op per document. */
import { ParseCache, readDesired, type DesiredSettings, type KnownDocument } from '../desired/index.js';
import { checkedSchemaSets } from '../desired/cache.js';
import { ProblemsError, StaticsError, type Problem } from '../errors.js';
import type { DesiredDocument, DocumentKind, Plan, PlanContent, PlanEntry, PlanSummary } from '../model.js';
import { PLAN_FORMAT, PLAN_FORMAT_VERSION } from '../model.js';
import type { CurrentListing, RevisionStore } from '../store/types.js';
import { limiter, mapConcurrent } from '../util/concurrency.js';
import { describeChange, type Side } from './change.js';
import { compareKeys, planIdentity } from './identity.js';
import { targetMatcher, unmatchedTargets } from './targets.js';
import { loadSchemas } from '../validate/schemas.js';
import { startListing, type StartedListing } from './listing.js';

export interface PlanOptions {
  /** Absolute path of the desired repository. */
  dir: string;
  desired: DesiredSettings;
  prune: boolean;
  targets: string[];
  /** Largest share of the store's documents one plan may delete. */
  deleteGuard: number;
  /** Lets a plan delete more than the guard allows, or every document. */
  allowMassDelete: boolean;
  toolVersion: string;
  /** The repository's commit; may still be being looked up (git runs beside the plan). */
  commit?: string | Promise<string | undefined>;
  /** Reads of the store at once. */
  concurrency?: number;
  now?: () => Date;
}

/**
 * Plans `options.dir` against `store`. A front end that started the listing early (see
 * startListing) passes it in; it must have been started with the same targets.
 */
export async function createPlan(store: RevisionStore, options: PlanOptions, listing: StartedListing = startListing(store, options)): Promise<Plan> {
  const accept = targetMatcher(options.targets);
  // The listing runs while the repository is read: both are the slow parts. Documents are
  // settled page by page as it goes, not all at its end. Loading schemas and the parse cache
  // holds the CPU for a while: the first listing request leaves first, so the store works on it
  // meanwhile.
  await listing.sent;

  const problems: Problem[] = [];
  const loaded = await loadSchemas(options.dir, { checked: checkedSchemaSets(options.desired.cacheDir) });
  problems.push(...loaded.problems);
  const cache = options.desired.cacheDir ? await ParseCache.open(options.desired.cacheDir, options.dir, loaded.schemas.digest) : undefined;
  try {
    const plan = await planWith(store, options, { accept, listing, problems, schemas: loaded.schemas, cache });
    const unmatched = unmatchedTargets(options.targets, plan.entries.map((entry) => entry.key));
    if (unmatched.length > 0) {
      throw new StaticsError('usage', `--target ${unmatched.map((t) => `"${t}"`).join(', ')} matches no document in the repository${options.prune ? ' or the store' : ''}`);
    }
    if (cache) rememberRevisions(cache, plan.entries);
    return plan;
  } finally {
    await cache?.save();
  }
}

/** Parsed documents waiting to be compared (for the listing, or a base read) at most. */
const MAX_PENDING_COMPARISONS = 1024;

interface PlanContext {
  accept: (key: string) => boolean;
  listing: StartedListing;
  problems: Problem[];
  schemas: Awaited<ReturnType<typeof loadSchemas>>['schemas'];
  cache: ParseCache | undefined;
}

async function planWith(store: RevisionStore, options: PlanOptions, context: PlanContext): Promise<Plan> {
  const { accept, problems, cache } = context;
  const { progress } = context.listing;
  const unchanged: PlanEntry[] = [];
  const changedEntries: PlanEntry[] = [];
  const desiredKeys = new Set<string>();
  // A file whose result the parse cache knows is not parsed when the listing confirms that
  // revision is current: unchanged, and nothing of it is needed but its digest.
  const settle = (key: string, revision: string): boolean | Promise<boolean> => {
    const confirms = (listing: ReadonlyMap<string, CurrentListing>) => listing.get(key)?.confirms(revision) ?? false;
    const listing = progress.when(key);
    return listing instanceof Promise ? listing.then(confirms) : confirms(listing);
  };

  // Each parsed document is compared as soon as the listing has passed its key, and a changed
  // one gets its base and diff right away: reading never waits for the store, nor the reverse.
  const limit = limiter(options.concurrency ?? 16);
  const compare = async (document: DesiredDocument): Promise<void> => {
    const listed = (await progress.when(document.key)).get(document.key);
    if (listed?.confirms(document.revision)) {
      // Unchanged: keep only what the plan shows, not the bytes.
      unchanged.push(entryOf(document, 'no-op', document.revision));
      return;
    }
    await limit(async () => {
      const base = listed ? (listed.revision ?? confirmedHint(cache, document.key, listed) ?? (await readBase(store, document.key))) : null;
      if (base === document.revision) {
        unchanged.push(entryOf(document, 'no-op', base));
        return;
      }
      const entry = entryOf(document, base === null ? 'create' : 'update', base);
      const before = base === null ? null : await sideOf(store, document.key, base);
      entry.change = describeChange(before, { bytes: document.bytes, kind: document.kind, summary: { size: document.size, sha256: document.revision } });
      entry.content = contentOf(document.bytes, document.kind);
      changedEntries.push(entry);
    });
  };
  const comparisons: Promise<void>[] = [];

  const onWalked = (keys: readonly string[]) => context.listing.walked.set(keys);
  for await (const item of readDesired(options.dir, options.desired, { accept, schemas: context.schemas, cache: cache ?? null, settle, onWalked })) {
    if ('problem' in item) {
      problems.push(item.problem);
      continue;
    }
    if ('known' in item) {
      desiredKeys.add(item.known.key);
      unchanged.push(entryOf(item.known, 'no-op', item.known.revision));
      continue;
    }
    desiredKeys.add(item.document.key);
    const comparison = compare(item.document);
    // Awaited below; a failure must not go unhandled meanwhile.
    comparison.catch(() => {});
    comparisons.push(comparison);
    // Each waiting comparison holds its document's bytes: reading may not run far ahead of the
    // listing. Keys come in order, so the one this far back is settled first.
    if (comparisons.length > MAX_PENDING_COMPARISONS) await comparisons[comparisons.length - 1 - MAX_PENDING_COMPARISONS];
  }
  if (problems.length > 0) throw new ProblemsError(problems);
  await Promise.all(comparisons);
  const listing = await context.listing.result;
  const concurrency = options.concurrency ?? 16;
  const entries: PlanEntry[] = [...unchanged, ...changedEntries];

  if (options.prune) {
    const gone = [...listing.keys()].filter((key) => !desiredKeys.has(key) && accept(key));
    const goneBases = await resolveBases(store, gone, listing, cache);
    const deletions = await mapConcurrent(gone, concurrency, async (key) => deletionOf(store, key, goneBases.get(key) ?? null));
    for (const deletion of deletions) if (deletion) entries.push(deletion);
  }

  entries.sort((a, b) => compareKeys(a.key, b.key));
  const summary = summarize(entries);
  if (!options.prune) {
    let unmanaged = 0;
    for (const key of listing.keys()) if (!desiredKeys.has(key) && accept(key)) unmanaged++;
    if (unmanaged > 0) summary.unmanaged = unmanaged;
  }
  guardDeletions(summary, listing.size, options);
  const commit = await options.commit;

  return {
    format: PLAN_FORMAT,
    formatVersion: PLAN_FORMAT_VERSION,
    id: planIdentity(entries),
    createdAt: (options.now ?? (() => new Date()))().toISOString(),
    tool: { name: 'statics', version: options.toolVersion },
    source: { dir: options.dir, ...(commit ? { commit } : {}) },
    store: store.description,
    options: { prune: options.prune, targets: options.targets },
    summary,
    entries,
  };
}

/** What this plan learned about each document's `current`, for the next one to confirm cheaply. */
function rememberRevisions(cache: ParseCache, entries: readonly PlanEntry[]): void {
  for (const entry of entries) {
    // After an apply, current is the planned revision; until then it is still the base.
    cache.setHints(entry.key, entry.action === 'no-op' ? [entry.revision] : [entry.revision, entry.base]);
  }
}

/** A revision recently seen for the key that the listing confirms is current (S3: by its ETag). */
function confirmedHint(cache: ParseCache | undefined, key: string, listed: CurrentListing): string | undefined {
  return cache?.hintsFor(key).find((revision) => listed.confirms(revision));
}

async function readBase(store: RevisionStore, key: string): Promise<string | null> {
  return (await store.readCurrent([key])).get(key)?.revision ?? null;
}

/**
 * The revision `current` holds for each key: from the listing where it names it or confirms a
 * revision recently seen for the key (never a guess: S3 confirms by current's ETag), else read.
 */
async function resolveBases(
  store: RevisionStore,
  keys: string[],
  listing: Map<string, CurrentListing>,
  cache: ParseCache | undefined,
): Promise<Map<string, string | null>> {
  const bases = new Map<string, string | null>();
  const toRead: string[] = [];
  for (const key of keys) {
    const listed = listing.get(key);
    const confirmed = listed && (listed.revision ?? confirmedHint(cache, key, listed));
    if (!listed) bases.set(key, null);
    else if (confirmed) bases.set(key, confirmed);
    else toRead.push(key);
  }
  for (const [key, record] of await store.readCurrent(toRead)) bases.set(key, record?.revision ?? null);
  return bases;
}

async function sideOf(store: RevisionStore, key: string, revision: string): Promise<Side> {
  const stored = await store.getRevision(key, revision);
  if (!stored) {
    throw new StaticsError('store', `${key}: current points at revision ${revision}, which is not stored`);
  }
  return { bytes: stored.bytes, kind: kindOfStored(stored.mediaType), summary: { size: stored.bytes.length, sha256: revision } };
}

async function deletionOf(store: RevisionStore, key: string, base: string | null): Promise<PlanEntry | null> {
  if (base === null) return null;
  const info = await store.statRevision(key, base);
  const mediaType = info?.mediaType ?? 'application/octet-stream';
  const kind = kindOfStored(mediaType);
  return {
    key,
    action: 'delete',
    base,
    revision: null,
    mediaType,
    kind,
    size: info?.size ?? 0,
    change: { kind: 'binary', before: { size: info?.size ?? 0, sha256: base }, after: null },
  };
}

function kindOfStored(mediaType: string): DocumentKind {
  if (mediaType === 'application/json') return 'structured';
  return /^text\/|\+json|\+xml|json|xml|yaml|javascript|toml|csv/.test(mediaType) ? 'text' : 'binary';
}

function entryOf(document: KnownDocument, action: PlanEntry['action'], base: string | null): PlanEntry {
  return {
    key: document.key,
    action,
    base,
    revision: document.revision,
    mediaType: document.mediaType,
    kind: document.kind,
    size: document.size,
    path: document.path,
  };
}

export function contentOf(bytes: Buffer, kind: DocumentKind): PlanContent {
  if (kind !== 'binary') {
    const text = bytes.toString('utf8');
    if (Buffer.from(text, 'utf8').equals(bytes)) return { encoding: 'utf8', data: text };
  }
  return { encoding: 'base64', data: bytes.toString('base64') };
}

export function summarize(entries: readonly PlanEntry[]): PlanSummary {
  const summary: PlanSummary = { create: 0, update: 0, delete: 0, unchanged: 0 };
  for (const entry of entries) {
    if (entry.action === 'no-op') summary.unchanged++;
    else summary[entry.action]++;
  }
  return summary;
}

/** A wrong directory or a bad glob must not wipe production. */
function guardDeletions(summary: PlanSummary, stored: number, options: PlanOptions): void {
  if (summary.delete === 0 || options.allowMassDelete) return;
  const share = summary.delete / stored;
  if (summary.delete === stored) {
    throw new StaticsError(
      'delete-guard',
      `refusing a plan that deletes every document in the store (${stored}); check the directory, or pass --allow-mass-delete`,
    );
  }
  if (share > options.deleteGuard) {
    throw new StaticsError(
      'delete-guard',
      `refusing a plan that deletes ${summary.delete} of ${stored} documents (${Math.round(share * 100)}%, more than the deleteGuard of ${Math.round(options.deleteGuard * 100)}%); pass --allow-mass-delete if intended`,
    );
  }
}
