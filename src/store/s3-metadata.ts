/**
 * How statics data rides in S3 user metadata: ASCII-only header values (S3 and proxies mangle
 * anything else) that, with their keys, stay well under S3's 2 KB user-metadata limit.
 */
import { isRevision } from '../keys.js';
import type { Provenance, Transition } from '../model.js';

/** User-metadata key (after `x-amz-meta-`) carrying the recent transitions on `current`. */
export const TRANSITIONS_META = 'statics-transitions';
export const COMMIT_META = 'statics-commit';
export const PATH_META = 'statics-path';

/** S3 counts key and value bytes; counting the `x-amz-meta-` prefix too keeps us conservative. */
const META_PREFIX = 'x-amz-meta-';
/** Budget for all user metadata of one object: ~400 bytes of headroom under S3's 2048. */
export const METADATA_BUDGET = 1600;
/** Free text (actor, commit) is cut to this encoded length so one transition always fits. */
const MAX_TEXT = 160;
/** Provenance fields longer than this (encoded) are dropped rather than stored half. */
const MAX_PROVENANCE = 600;

const FORMAT_VERSION = '1';
const ACTION_CODES: Record<Transition['action'], string> = { apply: 'a', rollback: 'r', delete: 'd' };
const CODE_ACTIONS: Record<string, Transition['action']> = { a: 'apply', r: 'rollback', d: 'delete' };

/** Bytes S3 counts for these metadata entries. */
export function metadataSize(metadata: Record<string, string>): number {
  let size = 0;
  for (const [key, value] of Object.entries(metadata)) size += Buffer.byteLength(META_PREFIX + key) + Buffer.byteLength(value);
  return size;
}

/** Percent-encoding of UTF-8: the result is plain ASCII and holds no `,` or `;` separators. */
function encodeText(text: string): string {
  return encodeURIComponent(text);
}

function decodeText(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/** Encodes `text`, dropping trailing characters (whole code points) until it fits `max`. */
function encodeCapped(text: string, max: number): string {
  let encoded = encodeText(text);
  if (encoded.length <= max) return encoded;
  // Every code point encodes to at least one character: start from at most `max` of them.
  const chars = Array.from(text).slice(0, max);
  encoded = encodeText(chars.join(''));
  while (chars.length > 0 && encoded.length > max) {
    chars.pop();
    encoded = encodeText(chars.join(''));
  }
  return encoded;
}

/** Canonical ISO times (as `toISOString` writes them) become base-36 milliseconds: 8 chars, not 24. */
function encodeTime(at: string): string {
  const ms = Date.parse(at);
  if (Number.isFinite(ms) && ms >= 0 && new Date(ms).toISOString() === at) return ms.toString(36);
  return '~' + encodeCapped(at, 64);
}

function decodeTime(field: string): string | undefined {
  if (field.startsWith('~')) return decodeText(field.slice(1));
  if (!/^[0-9a-z]{1,12}$/.test(field)) return undefined;
  const date = new Date(parseInt(field, 36));
  return Number.isFinite(date.getTime()) ? date.toISOString() : undefined;
}

/**
 * One entry: `action;time;revision;previous;commit;actor`, trailing empty fields left off.
 * `previous` is empty for null and `^` when it is the next (older) entry's revision, which it
 * is along an unbroken chain of moves: that halves the space revisions take.
 */
function encodeEntry(transition: Transition, older: Transition | undefined): string {
  const previous =
    transition.previous === null ? '' : older && older.revision === transition.previous ? '^' : transition.previous;
  const fields = [
    ACTION_CODES[transition.action] ?? 'a',
    encodeTime(transition.at),
    transition.revision ?? '',
    previous,
    transition.commit ? encodeCapped(transition.commit, MAX_TEXT) : '',
    transition.actor ? encodeCapped(transition.actor, MAX_TEXT) : '',
  ];
  while (fields.length > 3 && fields[fields.length - 1] === '') fields.pop();
  return fields.join(';');
}

function encodeList(transitions: readonly Transition[]): string {
  const entries = transitions.map((transition, index) => encodeEntry(transition, transitions[index + 1]));
  return [FORMAT_VERSION, ...entries].join(',');
}

/**
 * The metadata value for `transitions` (newest first), keeping as many of the newest as fit the
 * budget together with `otherMetadata` (whatever else the object carries).
 */
export function encodeTransitions(transitions: readonly Transition[], otherMetadata: Record<string, string> = {}): string {
  const available = METADATA_BUDGET - metadataSize(otherMetadata) - Buffer.byteLength(META_PREFIX + TRANSITIONS_META);
  for (let count = transitions.length; count > 0; count--) {
    const value = encodeList(transitions.slice(0, count));
    if (value.length <= available) return value;
  }
  return FORMAT_VERSION;
}

/** Transitions from a metadata value; malformed entries are skipped, since history is advisory. */
export function decodeTransitions(value: string | undefined): Transition[] {
  if (!value) return [];
  const [version, ...entries] = value.split(',');
  if (version !== FORMAT_VERSION) return [];
  const decoded: Array<Transition | undefined> = entries.map(decodeEntry);
  // Resolve `^` (same as the older entry's revision) from the oldest entry up.
  const transitions: Transition[] = [];
  for (let index = decoded.length - 1; index >= 0; index--) {
    const transition = decoded[index];
    if (!transition) continue;
    if (transition.previous === '^') transition.previous = decoded[index + 1]?.revision ?? null;
    transitions.unshift(transition);
  }
  return transitions;
}

function decodeEntry(entry: string): Transition | undefined {
  const [code = '', time = '', revision = '', previous = '', commit = '', actor = ''] = entry.split(';');
  const action = CODE_ACTIONS[code];
  const at = decodeTime(time);
  if (!action || at === undefined) return undefined;
  if (revision !== '' && !isRevision(revision)) return undefined;
  if (previous !== '' && previous !== '^' && !isRevision(previous)) return undefined;
  const transition: Transition = {
    revision: revision === '' ? null : revision,
    previous: previous === '' ? null : previous,
    at,
    action,
  };
  const decodedCommit = commit ? decodeText(commit) : undefined;
  const decodedActor = actor ? decodeText(actor) : undefined;
  if (decodedCommit) transition.commit = decodedCommit;
  if (decodedActor) transition.actor = decodedActor;
  return transition;
}

/** User metadata recording where a revision came from. */
export function encodeProvenance(provenance: Provenance): Record<string, string> {
  const metadata: Record<string, string> = {};
  const commit = provenance.commit ? encodeText(provenance.commit) : '';
  const path = provenance.path ? encodeText(provenance.path) : '';
  if (commit && commit.length <= MAX_PROVENANCE) metadata[COMMIT_META] = commit;
  if (path && path.length <= MAX_PROVENANCE) metadata[PATH_META] = path;
  return metadata;
}

export function decodeProvenance(metadata: Record<string, string> | undefined): Provenance {
  const provenance: Provenance = {};
  const commit = metadata?.[COMMIT_META] ? decodeText(metadata[COMMIT_META]) : undefined;
  const path = metadata?.[PATH_META] ? decodeText(metadata[PATH_META]) : undefined;
  if (commit) provenance.commit = commit;
  if (path) provenance.path = path;
  return provenance;
}

/** One version of `current` as bucket versioning keeps it, for merging deep history. */
export interface CurrentVersion {
  lastModified: Date;
  deleteMarker: boolean;
  /** From the version's metadata; empty for delete markers. */
  transitions: Transition[];
}

/**
 * History from the versions of `current`: every transition any version recorded, de-duplicated,
 * newest first. A delete marker carries no metadata, so its transition is rebuilt from its time
 * and the version before it (who deleted is not known there).
 */
export function mergeHistory(versions: readonly CurrentVersion[]): Transition[] {
  const ordered = [...versions].sort((a, b) => b.lastModified.getTime() - a.lastModified.getTime());
  const seen = new Set<string>();
  const merged: Transition[] = [];
  const add = (transition: Transition): void => {
    const identity = `${transition.at}|${transition.action}|${transition.revision}|${transition.previous}`;
    if (seen.has(identity)) return;
    seen.add(identity);
    merged.push(transition);
  };
  ordered.forEach((version, index) => {
    if (!version.deleteMarker) {
      version.transitions.forEach(add);
      return;
    }
    // Only a marker laid over a real version moved `current`; one over a marker deleted nothing.
    const older = ordered[index + 1];
    const previous = older && !older.deleteMarker ? (older.transitions[0]?.revision ?? null) : null;
    if (previous === null) return;
    add({ revision: null, previous, at: version.lastModified.toISOString(), action: 'delete' });
  });
  // Stable: equal times keep the newest-version-first order.
  return merged
    .map((transition, index) => ({ transition, index, time: Date.parse(transition.at) }))
    .sort((a, b) => (b.time || 0) - (a.time || 0) || a.index - b.index)
    .map((entry) => entry.transition);
}
