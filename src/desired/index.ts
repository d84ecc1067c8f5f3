/**
 * Reading the desired repository: walk documents/, check names and layout, read each file once,
 * parse and validate structured ones, and give every document its canonical bytes and digest.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { formatProblem, messageOf, type Problem } from '../errors.js';
import { loadSchemas, type SchemaSet } from '../validate/schemas.js';
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
export type { DesiredFile } from './walk.js';

/** Files read at once: enough to keep the disk and thread pool busy, few enough to bound memory. */
const READ_CONCURRENCY = 32;

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
  options: { accept?: (key: string) => boolean; schemas?: SchemaSet } = {},
): AsyncGenerator<DesiredItem> {
  let schemas = options.schemas;
  if (!schemas) {
    const loaded = await loadSchemas(root);
    schemas = loaded.schemas;
    for (const problem of loaded.problems) yield { problem };
  }
  const entries = await walkDocuments(root, options.accept);

  // Compile each schema in use once, up front, so its problems are reported once and not per file.
  const reported = new Set<string>();
  const types = new Set<string>();
  for (const entry of entries) {
    if (!('file' in entry)) continue;
    const typeKey = `${entry.file.domain}/${entry.file.type}`;
    if (types.has(typeKey)) continue;
    types.add(typeKey);
    for (const problem of schemas.compileProblems(entry.file.domain, entry.file.type)) {
      const text = formatProblem(problem);
      if (reported.has(text)) continue;
      reported.add(text);
      yield { problem };
    }
  }

  yield* readInOrder(entries, settings, schemas);
}

/** Reads several files at once but yields strictly in the order of `entries`. */
async function* readInOrder(entries: WalkEntry[], settings: DesiredSettings, schemas: SchemaSet): AsyncGenerator<DesiredItem> {
  const pending: Array<Promise<DesiredItem[]>> = [];
  let next = 0;
  const startNext = () => {
    const entry = entries[next++]!;
    pending.push('problem' in entry ? Promise.resolve([entry]) : loadDocument(entry.file, settings, schemas));
  };
  while (next < entries.length && pending.length < READ_CONCURRENCY) startNext();
  while (pending.length > 0) {
    const items = await pending.shift()!;
    if (next < entries.length) startNext();
    yield* items;
  }
}

/** Never rejects: a promise left pending when the consumer stops early must not go unhandled. */
async function loadDocument(file: DesiredFile, settings: DesiredSettings, schemas: SchemaSet): Promise<DesiredItem[]> {
  try {
    const read = await readFileBounded(file, settings.maxFileBytes);
    if ('problem' in read) return [read];
    return prepareDocument(file, read.bytes, schemas, settings);
  } catch (error) {
    return [{ problem: problemAt('internal', file.path, `unexpected error: ${messageOf(error)}`) }];
  }
}

/** The file's bytes, or why not: its size is checked before reading, so a huge file costs nothing. */
async function readFileBounded(file: DesiredFile, limit: number): Promise<{ bytes: Buffer } | { problem: Problem }> {
  let handle;
  try {
    // O_NONBLOCK: opening a FIFO must not hang the run; it is rejected below as not a regular file.
    handle = await open(file.absolutePath, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    const info = await handle.stat();
    if (!info.isFile()) return { problem: problemAt('unreadable', file.path, 'not a regular file') };
    if (info.size > limit) return { problem: tooLarge(file.path, info.size, limit) };
    // One byte more than expected tells a file that grew while being read.
    const buffer = Buffer.allocUnsafe(info.size + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length !== info.size) return { problem: problemAt('unreadable', file.path, 'the file changed while it was read') };
    return { bytes: buffer.subarray(0, length) };
  } catch (error) {
    return { problem: problemAt('unreadable', file.path, `cannot read: ${systemMessage(error)}`) };
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
