/**
 * The parse cache: what parsing, validating and canonicalising a structured file gave, keyed by
 * the sha256 of its raw bytes together with everything else the result depends on (the schemas,
 * which of them applies, JSON or YAML, and the code that does the work). A hit gives the revision
 * and size without parsing; a file changed in any way, even behind the cache's back, is a miss.
 * Only valid documents are cached, so a hit is also "this file passed validation".
 *
 * It also keeps, per document key, the revisions a plan last saw (desired and current): hints
 * that let the next plan name a changed document's base from the store listing alone. A hint is
 * never trusted: it is used only where the listing confirms it (S3: current's ETag).
 *
 * And it keeps, per file path, the file's stat (device, inode, size, modified and changed times)
 * with the key its bytes had, as git's index does: a file whose stat is unchanged is not read
 * again. Only stats older than RACY_MS are kept, so a write in the same clock tick as the read
 * cannot go unseen; any later write moves the changed time, which nothing can set back.
 *
 * One file per repository in the cache directory, read once and rewritten whole (temp file and
 * rename) when something was learned. Every failure to read or write it only costs speed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, type Stats } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isRevision } from '../keys.js';
import type { DesiredFile } from './walk.js';

const MAGIC = Buffer.from('STATICS-PARSE-CACHE\n');
const FORMAT = 3;
/** A revision (sha256) in hex. */
const REVISION_HEX = 64;
/** Cache files of repositories not planned for this long are removed when another one is saved. */
const STALE_AFTER_MS = 30 * 24 * 3600 * 1000;
/** Entries not used by a run are kept (another branch may need them), up to this many. */
const MAX_ENTRIES = 500_000;

/** A file's stat is trusted only once both its times are at least this old. */
const RACY_MS = 2000;

export interface CachedResult {
  revision: string;
  size: number;
}

/**
 * What else than its bytes decides how a structured file is prepared: the code (our parse,
 * validation and canonical form, and the versions of yaml and ajv). Undefined where it cannot be
 * told (e.g. inside a bundle), and then nothing is cached.
 */
let codeDigest: Buffer | null | undefined;

function currentCodeDigest(): Buffer | null {
  if (codeDigest !== undefined) return codeDigest;
  try {
    const here = fileURLToPath(import.meta.url);
    const ext = path.extname(here);
    const hash = createHash('sha256').update(`format ${FORMAT}\n`);
    const sources = ['desired/prepare', 'desired/structured', 'desired/canonical', 'desired/media', 'validate/schemas', 'validate/report', 'validate/locate', 'keys'];
    for (const source of sources) {
      hash.update(`${source}\n`).update(readFileSync(path.join(path.dirname(here), '..', `${source}${ext}`)));
    }
    const require = createRequire(import.meta.url);
    for (const dependency of ['yaml', 'ajv', 'ajv-formats']) {
      hash.update(`${dependency}@${(require(`${dependency}/package.json`) as { version: string }).version}\n`);
    }
    codeDigest = hash.digest();
  } catch {
    codeDigest = null;
  }
  return codeDigest;
}

/** Schema sets already checked against the meta-schema, without a problem, by this code. */
export interface CheckedSchemaSets {
  has(digest: string): Promise<boolean>;
  add(digest: string): Promise<void>;
}

const CHECKED_SETS_KEPT = 16;

/**
 * The schema sets (by digest of every schema file, with this statics' code) that loaded without
 * a problem, kept in `dir`: a set loaded again is trusted as is, which spares compiling the
 * meta-schema and parsing with positions (~0.2 s of CPU before a plan can start). Undefined
 * without a cache directory, or when the code cannot be identified.
 */
export function checkedSchemaSets(dir: string | undefined): CheckedSchemaSets | undefined {
  const code = currentCodeDigest();
  if (!dir || !code) return undefined;
  const file = path.join(dir, 'schemas-checked.txt');
  const idOf = (digest: string) => createHash('sha256').update(code).update(digest).digest('hex');
  const read = async (): Promise<string[]> => {
    try {
      return (await readFile(file, 'utf8')).split('\n').filter(Boolean);
    } catch {
      return [];
    }
  };
  return {
    async has(digest) {
      return (await read()).includes(idOf(digest));
    },
    async add(digest) {
      const id = idOf(digest);
      const known = await read();
      if (known.includes(id)) return;
      try {
        await mkdir(dir, { recursive: true });
        const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
        await writeFile(temporary, [id, ...known].slice(0, CHECKED_SETS_KEPT).join('\n') + '\n');
        await rename(temporary, file);
      } catch {
        // A cache only ever spares work: the next run checks again.
      }
    },
  };
}

export class ParseCache {
  private readonly entries = new Map<string, CachedResult>();
  private readonly used = new Set<string>();
  /** Per document key, its recent revisions as one string of hex digests (no array each: 100,000s of keys). */
  private readonly hints = new Map<string, string>();
  /** Per file path: its stat stamp, a NUL, and the key its bytes had. */
  private readonly stamps = new Map<string, string>();
  private readonly stampsSeen = new Set<string>();
  private dirty = false;

  private constructor(
    private readonly file: string,
    private readonly root: string,
    /** Everything but the file's own bytes and place that its key covers. */
    private readonly context: Buffer,
    private readonly now: () => number,
  ) {}

  /**
   * The cache of the repository at `root` in `dir`, for the given schema set. Undefined when
   * the code cannot be identified; an unreadable or foreign cache file counts as empty.
   */
  static async open(dir: string, root: string, schemasDigest: string, options: { now?: () => number } = {}): Promise<ParseCache | undefined> {
    const code = currentCodeDigest();
    if (!code) return undefined;
    const realRoot = path.resolve(root);
    const file = path.join(dir, `parse-${createHash('sha256').update(realRoot).digest('hex').slice(0, 24)}.bin`);
    const context = createHash('sha256').update(code).update(schemasDigest).digest();
    const cache = new ParseCache(file, realRoot, context, options.now ?? Date.now);
    try {
      cache.load(await readFile(file));
    } catch {
      // Missing or unreadable: start empty.
    }
    return cache;
  }

  /** The key of a file's result: its raw bytes, where it sits (which schema applies) and how it is read. */
  keyOf(file: DesiredFile, raw: Uint8Array): string {
    return createHash('sha256')
      .update(this.context)
      .update(`${file.domain}\0${file.type}\0${file.ext.toLowerCase()}\0`)
      .update(raw)
      .digest('binary');
  }

  /** What identifies a file's bytes without reading them, or undefined while it may still change unseen. */
  stampOf(info: Stats): string | undefined {
    if (!info.isFile() || Math.max(info.mtimeMs, info.ctimeMs) > this.now() - RACY_MS) return undefined;
    return `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
  }

  /** The key of the file's bytes when its stat is what it was when they were read. */
  keyByStamp(file: DesiredFile, stamp: string | undefined): string | undefined {
    if (stamp === undefined) return undefined;
    const known = this.stamps.get(file.path);
    if (known === undefined || known.length !== stamp.length + 33 || !known.startsWith(stamp) || known[stamp.length] !== '\0') return undefined;
    this.stampsSeen.add(file.path);
    return known.slice(stamp.length + 1);
  }

  /** Remembers the key of the bytes read from a file with this stat (nothing while it may be racy). */
  setStamp(file: DesiredFile, stamp: string | undefined, key: string): void {
    if (stamp === undefined) return;
    const value = `${stamp}\0${key}`;
    this.stampsSeen.add(file.path);
    if (this.stamps.get(file.path) === value) return;
    this.stamps.set(file.path, value);
    this.dirty = true;
  }

  get(key: string): CachedResult | undefined {
    const found = this.entries.get(key);
    if (found) this.used.add(key);
    return found;
  }

  set(key: string, result: CachedResult): void {
    const known = this.entries.get(key);
    this.used.add(key);
    if (known && known.revision === result.revision && known.size === result.size) return;
    this.entries.set(key, result);
    this.dirty = true;
  }

  /** Revisions recently seen for a document: candidates for its `current`, to be confirmed. */
  hintsFor(documentKey: string): readonly string[] {
    const joined = this.hints.get(documentKey) ?? '';
    return Array.from({ length: joined.length / REVISION_HEX }, (_, index) => joined.slice(index * REVISION_HEX, (index + 1) * REVISION_HEX));
  }

  setHints(documentKey: string, revisions: readonly (string | null | undefined)[]): void {
    const unique = [...new Set(revisions.filter((revision): revision is string => typeof revision === 'string' && isRevision(revision)))].slice(0, 4);
    const joined = unique.join('');
    if ((this.hints.get(documentKey) ?? '') === joined) return;
    if (joined === '') this.hints.delete(documentKey);
    else this.hints.set(documentKey, joined);
    this.dirty = true;
  }

  /** Writes the cache when it learned something; never throws. */
  async save(): Promise<void> {
    if (!this.dirty) {
      // Still a sign of life, so the file is not removed as stale.
      await utimes(this.file, new Date(), new Date()).catch(() => {});
      return;
    }
    const temp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await mkdir(path.dirname(this.file), { recursive: true });
      await writeFile(temp, this.serialize());
      await rename(temp, this.file);
      this.dirty = false;
      await removeStale(path.dirname(this.file), this.file);
    } catch {
      await rm(temp, { force: true }).catch(() => {});
    }
  }

  private serialize(): Buffer {
    // Entries this run used first, so a cut at MAX_ENTRIES drops the ones nobody needed lately.
    const keys = [...this.used].filter((key) => this.entries.has(key));
    for (const key of this.entries.keys()) {
      if (keys.length >= MAX_ENTRIES) break;
      if (!this.used.has(key)) keys.push(key);
    }
    const kept = keys.slice(0, MAX_ENTRIES);
    // One buffer, written in place: a cache of 100,000s of entries is not 100,000s of small buffers.
    const root = Buffer.from(this.root, 'utf8');
    let size = MAGIC.length + 4 + 4 + root.length + this.context.length + 4 + kept.length * 68 + 4;
    for (const [documentKey, joined] of this.hints) size += 4 + Buffer.byteLength(documentKey, 'utf8') + 1 + joined.length / 2;
    // Stamps of files seen this run first, then others, up to MAX_ENTRIES.
    const stampPaths = [...this.stampsSeen].filter((file) => this.stamps.has(file));
    for (const file of this.stamps.keys()) {
      if (stampPaths.length >= MAX_ENTRIES) break;
      if (!this.stampsSeen.has(file)) stampPaths.push(file);
    }
    const keptStamps = stampPaths.slice(0, MAX_ENTRIES);
    size += 4;
    for (const file of keptStamps) size += 4 + Buffer.byteLength(file, 'utf8') + 4 + this.stamps.get(file)!.length;
    const body = Buffer.alloc(size);
    let at = MAGIC.copy(body, 0);
    at = body.writeUInt32LE(FORMAT, at);
    at = body.writeUInt32LE(root.length, at);
    at += root.copy(body, at);
    at += this.context.copy(body, at);
    at = body.writeUInt32LE(kept.length, at);
    for (const key of kept) {
      const entry = this.entries.get(key)!;
      at += body.write(key, at, 'latin1');
      at += body.write(entry.revision, at, 'hex');
      at = body.writeUInt32LE(entry.size, at);
    }
    at = body.writeUInt32LE(this.hints.size, at);
    for (const [documentKey, joined] of this.hints) {
      const keyLength = Buffer.byteLength(documentKey, 'utf8');
      at = body.writeUInt32LE(keyLength, at);
      at += body.write(documentKey, at, 'utf8');
      at = body.writeUInt8(joined.length / REVISION_HEX, at);
      at += body.write(joined, at, 'hex');
    }
    at = body.writeUInt32LE(keptStamps.length, at);
    for (const file of keptStamps) {
      const value = this.stamps.get(file)!;
      at = body.writeUInt32LE(Buffer.byteLength(file, 'utf8'), at);
      at += body.write(file, at, 'utf8');
      at = body.writeUInt32LE(value.length, at);
      at += body.write(value, at, 'latin1');
    }
    // A digest at the end: a torn or damaged file is ignored, never half believed.
    return Buffer.concat([body, createHash('sha256').update(body).digest()]);
  }

  /** Reads a cache file; one made for other schemas or another version of the code is ignored whole. */
  private load(file: Buffer): void {
    if (file.length < 32) return;
    const data = file.subarray(0, file.length - 32);
    if (!createHash('sha256').update(data).digest().equals(file.subarray(file.length - 32))) return;
    // Plain offsets, no per-entry allocations beyond the strings kept: this runs on every plan.
    let at = MAGIC.length;
    const need = (length: number) => {
      if (at + length > data.length) throw new Error('truncated');
    };
    need(8);
    if (!data.subarray(0, MAGIC.length).equals(MAGIC) || data.readUInt32LE(at) !== FORMAT) return;
    at += 4;
    const rootLength = data.readUInt32LE(at);
    at += 4 + rootLength; // the repository, for people looking at the file
    need(36);
    const sameContext = data.subarray(at, at + 32).equals(this.context);
    at += 32;
    const count = data.readUInt32LE(at);
    at += 4;
    need(count * 68);
    if (sameContext) {
      for (let i = 0; i < count; i++, at += 68) {
        this.entries.set(data.toString('latin1', at, at + 32), { revision: data.toString('hex', at + 32, at + 64), size: data.readUInt32LE(at + 64) });
      }
    } else {
      // Hints hold whatever the schemas; results only under the same ones.
      at += count * 68;
    }
    need(4);
    const hintCount = data.readUInt32LE(at);
    at += 4;
    for (let i = 0; i < hintCount; i++) {
      need(4);
      const keyLength = data.readUInt32LE(at);
      need(4 + keyLength + 1);
      const documentKey = data.toString('utf8', at + 4, at + 4 + keyLength);
      at += 4 + keyLength;
      const n = data[at]!;
      at += 1;
      need(n * 32);
      this.hints.set(documentKey, data.toString('hex', at, at + n * 32));
      at += n * 32;
    }
    need(4);
    const stampCount = data.readUInt32LE(at);
    at += 4;
    for (let i = 0; i < stampCount; i++) {
      need(4);
      const fileLength = data.readUInt32LE(at);
      need(8 + fileLength);
      const file = data.toString('utf8', at + 4, at + 4 + fileLength);
      at += 4 + fileLength;
      const valueLength = data.readUInt32LE(at);
      need(4 + valueLength);
      // The keys they name hold the context, so they are kept whatever it is.
      this.stamps.set(file, data.toString('latin1', at + 4, at + 4 + valueLength));
      at += 4 + valueLength;
    }
  }
}

/** Cache files of repositories gone or not planned for a month go. */
async function removeStale(dir: string, keep: string): Promise<void> {
  const now = Date.now();
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!/^parse-[0-9a-f]{24}\.bin(\..*\.tmp)?$/.test(name)) continue;
    const file = path.join(dir, name);
    if (file === keep) continue;
    const info = await stat(file).catch(() => null);
    if (info && now - info.mtimeMs > STALE_AFTER_MS) await rm(file, { force: true }).catch(() => {});
  }
}

/** A digest of the schema set: every schema file's path and bytes. */
export function digestSchemaFiles(files: ReadonlyArray<{ path: string; bytes: Uint8Array | null }>): string {
  const hash = createHash('sha256');
  for (const file of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    hash.update(`${file.path}\0${file.bytes ? file.bytes.length : -1}\0`);
    if (file.bytes) hash.update(file.bytes);
  }
  return hash.digest('hex');
}
