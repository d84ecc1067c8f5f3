/**
 * Reading the desired repository: walk documents/, check names and layout, read each file once,
 * parse and validate structured ones, and give every document its canonical bytes and digest.
 */
import fs from 'node:fs';
import { formatProblem, messageOf, type Problem } from '../errors.js';
import type { DesiredDocument } from '../model.js';
import { loadSchemas, type SchemaSet } from '../validate/schemas.js';
import { checkedSchemaSets, ParseCache, type CachedResult } from './cache.js';
import { mediaTypeFor, STRUCTURED_MEDIA_TYPE } from './media.js';
import { defaultThreadCount, defaultWorkerUrl, PreparePool } from './pool.js';
import { prepareDocument, tooLarge, type DesiredItem, type DesiredSettings } from './prepare.js';
import { problemAt, systemMessage, walkDocuments, type DesiredFile, type WalkEntry } from './walk.js';

export { canonicalJson, compareCodePoints, sha256Hex } from './canonical.js';
export { isTextMediaType, mediaTypeFor, STRUCTURED_MEDIA_TYPE } from './media.js';
export {
  DEFAULT_DESIRED_SETTINGS,
  DEFAULT_MAX_FILE_BYTES,
  humanBytes,
  prepareDocument,
  type DesiredItem,
  type DesiredSettings,
} from './prepare.js';
export { parseStructured, type SourceMap, type StructuredResult } from './structured.js';
export { ParseCache, type CachedResult } from './cache.js';
export { PreparePool } from './pool.js';
export type { DesiredFile } from './walk.js';

/** Longest stretch of synchronous work before letting other I/O (e.g. a store listing) run. */
const YIELD_EVERY_MS = 15;

/**
 * Every document under root/documents in key order (domain, type, id; byte order), and every
 * problem found. Never throws for bad input: problems are yielded. `accept(key)` filters by
 * `domain/type/id` before a file is read (naming and layout problems are reported regardless).
 * Schema problems come first; a document with any problem is not yielded, so a caller must treat
 * any problem as fatal before acting on the set of documents (e.g. before pruning).
 */
export async function* readDesired(
  root: string,
  settings: DesiredSettings,
  options: ReadOptions = {},
): AsyncGenerator<DesiredRead> {
  let schemas = options.schemas;
  if (!schemas) {
    const loaded = await loadSchemas(root, { checked: checkedSchemaSets(settings.cacheDir) });
    schemas = loaded.schemas;
    for (const problem of loaded.problems) yield { problem };
  }
  const entries = await walkDocuments(root, options.accept);
  options.onWalked?.(entries.flatMap((entry) => ('file' in entry ? [entry.file.key] : [])));

  const ownCache = options.cache === undefined && settings.cacheDir ? await ParseCache.open(settings.cacheDir, root, schemas.digest) : undefined;
  const reader = new OrderedReader(root, settings, schemas, { ...options, cache: options.cache ?? ownCache ?? null }, entries);
  try {
    yield* reader.read();
  } finally {
    await reader.close();
  }
  await ownCache?.save();
}

export interface ReadOptions {
  /** Only documents whose key (`domain/type/id`) it accepts are read. */
  accept?: (key: string) => boolean;
  /** The repository's schemas, when the caller has loaded them already. */
  schemas?: SchemaSet;
  /**
   * The parse cache to consult and fill; null for none. By default one is opened from
   * settings.cacheDir (and saved at the end).
   */
  cache?: ParseCache | null;
  /**
   * Asked about each file the parse cache knows: true when its revision (and size) is all the
   * caller needs. Such a file is yielded as `{ known }`, without being parsed. Without this
   * option every document is yielded with its bytes.
   */
  settle?: (key: string, revision: string) => boolean | Promise<boolean>;
  /** Told every document key the walk found (accepted ones), once, before any is read. */
  onWalked?: (keys: readonly string[]) => void;
  /** Parser threads; 0 parses on this thread. Default: one per core, once there is enough to parse. */
  threads?: number;
  /** The compiled worker module (tests); default: worker.js beside this module. */
  workerUrl?: URL;
}

/** A document the parse cache vouches for: everything but its bytes. */
export type KnownDocument = Omit<DesiredDocument, 'bytes'>;

/** What readDesired yields: a document, a problem, or (with `settle`) a document known without parsing. */
export type DesiredRead = DesiredItem | { known: KnownDocument };

/**
 * Threads cost ~0.5 s of CPU each to start (modules, schemas), taken from the store listing on a
 * small machine: they start only once this many files were parsed here and at least as many more
 * are expected, at the rate seen so far (a plan of 1% changes parses on this thread).
 */
const INLINE_PARSES = 24;
const POOL_MIN_EXPECTED = 512;
/** Files read ahead of the one being yielded: bounds memory while threads parse. */
const READ_AHEAD = 256;
/** Files waiting (e.g. for the listing to confirm them) ahead of the one being yielded: bounds memory. */
const MAX_QUEUED = 4096;

/**
 * Reads and prepares each file, yielding in walk order. Reads are synchronous on purpose:
 * measured on 10,000 small files in the page cache, fs/promises cost ~1.2 s of CPU and callbacks
 * ~0.5 s against ~0.1 s for sync reads, and that CPU is taken from parsing, the real bottleneck.
 * Cold caches lose from it; checkouts are warm. The event loop still gets a turn every
 * YIELD_EVERY_MS. Parsing moves to worker threads once there is enough of it.
 */
class OrderedReader {
  private pool: PreparePool | undefined;
  private parses = 0;
  private structuredLeft: number;
  private readonly structuredTotal: number;
  private readonly cache: ParseCache | null;
  private readonly typesChecked = new Set<string>();
  private readonly reportedSchemaProblems = new Set<string>();

  constructor(
    private readonly root: string,
    private readonly settings: DesiredSettings,
    private readonly schemas: SchemaSet,
    private readonly options: ReadOptions & { cache: ParseCache | null },
    private readonly entries: Array<WalkEntry | undefined>,
  ) {
    this.cache = options.cache;
    this.structuredLeft = entries.filter((entry) => entry && 'file' in entry && isStructured(entry.file, settings)).length;
    this.structuredTotal = this.structuredLeft;
  }

  async *read(): AsyncGenerator<DesiredRead> {
    // Files are read ahead of what is yielded so parsing (on threads) overlaps with the store
    // listing a caller's `settle` may wait for. Only slots holding document bytes are bounded.
    const queue: Slot[] = [];
    let heavy = 0;
    const take = (): DesiredRead[] => {
      const slot = queue.shift()!;
      if (slot.heavy) heavy--;
      if ('error' in slot) throw slot.error;
      return slot.items!;
    };
    let lastYield = performance.now();
    for (let index = 0; index < this.entries.length; index++) {
      const entry = this.entries[index]!;
      // Let go of each walk entry once read: a large repository is not held twice.
      this.entries[index] = undefined;
      const slot = 'problem' in entry ? { items: [entry], heavy: false } : this.load(entry.file);
      queue.push(slot);
      if (slot.heavy) heavy++;
      while (queue.length > 0 && (queue[0]!.items || 'error' in queue[0]!)) yield* take();
      while (heavy >= READ_AHEAD || queue.length >= MAX_QUEUED) {
        await queue[0]!.done;
        yield* take();
      }
      if (performance.now() - lastYield > YIELD_EVERY_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
    }
    while (queue.length > 0) {
      await queue[0]!.done;
      yield* take();
    }
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }

  private load(file: DesiredFile): Slot {
    const structured = isStructured(file, this.settings);
    // A file whose stat is what it was when the cache saw its bytes is not read again.
    const unread = structured && this.cache && this.options.settle ? this.knownByStamp(file) : undefined;
    if (unread) return unread;
    const read = this.readFile(file);
    if ('problem' in read) return { items: [read], heavy: false };
    const bytes = read.bytes;
    if (!structured) return slotOf(this.prepare(file, bytes), true);
    this.structuredLeft--;
    const key = this.cache?.keyOf(file, bytes);
    if (key !== undefined) this.cache!.setStamp(file, this.cache!.stampOf(read.info), key);
    const known = key === undefined ? undefined : this.cache!.get(key);
    if (known && this.options.settle) {
      const settled = this.settleKnown(file, known);
      if (settled) return settled;
    }
    return slotOf(this.parseChecked(file, bytes, key), true);
  }

  /** The slot of a file the cache knows by its stat alone, when the caller settles it. */
  private knownByStamp(file: DesiredFile): Slot | undefined {
    let info: fs.Stats | undefined;
    try {
      info = fs.statSync(file.absolutePath, { throwIfNoEntry: false });
    } catch {
      return undefined;
    }
    if (!info || info.size > this.settings.maxFileBytes) return undefined;
    const key = this.cache!.keyByStamp(file, this.cache!.stampOf(info));
    const known = key === undefined ? undefined : this.cache!.get(key);
    if (!known) return undefined;
    const settled = this.settleKnown(file, known);
    if (settled) this.structuredLeft--;
    return settled;
  }

  /** A known file's slot: the document without its bytes if the caller settles it, else read and parsed after all. */
  private settleKnown(file: DesiredFile, known: CachedResult): Slot | undefined {
    const document: KnownDocument = { key: file.key, path: file.path, kind: 'structured', mediaType: STRUCTURED_MEDIA_TYPE, revision: known.revision, size: known.size };
    const settled = this.options.settle!(file.key, known.revision);
    if (settled === true) return { items: [{ known: document }], heavy: false };
    if (settled instanceof Promise) {
      // The bytes are not kept meanwhile: if the answer is no, the file is read again.
      return slotOf(settled.then((yes) => (yes ? [{ known: document }] : this.reread(file))), false);
    }
    return undefined;
  }

  /** Parses a structured file, after what is wrong with its type's schema the first time. */
  private parseChecked(file: DesiredFile, bytes: Buffer, key: string | undefined): DesiredRead[] | Promise<DesiredRead[]> {
    const schemaProblems = this.schemaProblemsFor(file);
    const parsed = this.parse(file, bytes, key);
    if (schemaProblems.length === 0) return parsed;
    return parsed instanceof Promise ? parsed.then((items) => [...schemaProblems, ...items]) : [...schemaProblems, ...parsed];
  }

  /**
   * A schema is compiled when the first file of its type is parsed, not up front: a plan whose
   * files the parse cache knows needs none (their results were made with these very schemas).
   * What is wrong with it is reported once, before that file's own problems.
   */
  private schemaProblemsFor(file: DesiredFile): DesiredRead[] {
    const typeKey = `${file.domain}/${file.type}`;
    if (this.typesChecked.has(typeKey)) return [];
    this.typesChecked.add(typeKey);
    const fresh: DesiredRead[] = [];
    for (const problem of this.schemas.compileProblems(file.domain, file.type)) {
      const text = formatProblem(problem);
      if (this.reportedSchemaProblems.has(text)) continue;
      this.reportedSchemaProblems.add(text);
      fresh.push({ problem });
    }
    return fresh;
  }

  private reread(file: DesiredFile): DesiredRead[] | Promise<DesiredRead[]> {
    const read = this.readFile(file);
    if ('problem' in read) return [read];
    return this.parseChecked(file, read.bytes, this.cache?.keyOf(file, read.bytes));
  }

  private readFile(file: DesiredFile): { bytes: Buffer; info: fs.Stats } | { problem: Problem } {
    try {
      return readFileBounded(file, this.settings.maxFileBytes);
    } catch (error) {
      return { problem: problemAt('internal', file.path, `unexpected error: ${messageOf(error)}`) };
    }
  }

  private parse(file: DesiredFile, bytes: Buffer, key: string | undefined): DesiredRead[] | Promise<DesiredRead[]> {
    const remember = (items: DesiredItem[]): DesiredItem[] => {
      const only = items.length === 1 ? items[0] : undefined;
      if (key !== undefined && only && 'document' in only) this.cache!.set(key, { revision: only.document.revision, size: only.document.size });
      return items;
    };
    const pool = this.poolFor();
    if (pool) return pool.prepare(file, bytes).then(remember);
    return remember(this.prepare(file, bytes));
  }

  private prepare(file: DesiredFile, bytes: Buffer): DesiredItem[] {
    try {
      return prepareDocument(file, bytes, this.schemas, this.settings);
    } catch (error) {
      return [{ problem: problemAt('internal', file.path, `unexpected error: ${messageOf(error)}`) }];
    }
  }

  /** The threads, started once enough parsing has shown up and is left. */
  private poolFor(): PreparePool | undefined {
    if (this.pool) return this.pool;
    this.parses++;
    const threads = this.options.threads ?? defaultThreadCount();
    if (threads < 1 || this.parses <= INLINE_PARSES) return undefined;
    const seen = Math.max(1, this.structuredTotal - this.structuredLeft);
    if ((this.parses / seen) * this.structuredLeft < POOL_MIN_EXPECTED) return undefined;
    const workerUrl = this.options.workerUrl ?? defaultWorkerUrl();
    if (!workerUrl) return undefined;
    this.pool = new PreparePool({ root: this.root, settings: poolSettings(this.settings) }, { threads, workerUrl });
    return this.pool;
  }
}

/** One file's place in the read-ahead queue: its items once known. */
type Slot = { items?: DesiredRead[]; done?: Promise<void>; heavy: boolean } | { error: unknown; heavy: boolean; items?: undefined; done?: Promise<void> };

/** `heavy`: the slot holds (or will hold) a document's bytes, so it counts against READ_AHEAD. */
function slotOf(result: DesiredRead[] | Promise<DesiredRead[]>, heavy: boolean): Slot {
  if (!(result instanceof Promise)) return { items: result, heavy };
  const slot: Slot = { heavy };
  slot.done = result.then(
    (items) => {
      slot.items = items;
    },
    (error: unknown) => {
      Object.assign(slot, { error });
    },
  );
  return slot;
}

function isStructured(file: DesiredFile, settings: DesiredSettings): boolean {
  return mediaTypeFor(file.ext, settings.mediaTypes).kind === 'structured';
}

/** Settings as a worker needs them (structured-clone safe). */
function poolSettings(settings: DesiredSettings): DesiredSettings {
  return { maxFileBytes: settings.maxFileBytes, mediaTypes: { ...settings.mediaTypes } };
}

/** The file's bytes, or why not: its size is checked before reading, so a huge file costs nothing. */
function readFileBounded(file: DesiredFile, limit: number): { bytes: Buffer; info: fs.Stats } | { problem: Problem } {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not hang the run; it is rejected below as not a regular file.
    fd = fs.openSync(file.absolutePath, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (error) {
    return { problem: problemAt('unreadable', file.path, `cannot read: ${systemMessage(error)}`) };
  }
  try {
    const info = fs.fstatSync(fd);
    if (!info.isFile()) return { problem: problemAt('unreadable', file.path, 'not a regular file') };
    if (info.size > limit) return { problem: tooLarge(file.path, info.size, limit) };
    // One byte more than expected tells a file that grew while being read.
    const buffer = Buffer.allocUnsafe(info.size + 1);
    let length = 0;
    for (;;) {
      const bytesRead = fs.readSync(fd, buffer, length, buffer.length - length, length);
      length += bytesRead;
      if (bytesRead === 0 || length === buffer.length) break;
    }
    if (length !== info.size) return { problem: problemAt('unreadable', file.path, 'the file changed while it was read') };
    return { bytes: buffer.subarray(0, length), info };
  } catch (error) {
    return { problem: problemAt('unreadable', file.path, `cannot read: ${systemMessage(error)}`) };
  } finally {
    fs.closeSync(fd);
  }
}
