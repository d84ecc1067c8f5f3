/**
 * The embedded store: a directory with the same key layout as the S3 bucket, so a new user runs
 * plan/apply with no services. Every write is write-to-temp-then-rename, so readers and crashes
 * never see half a file.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { StaticsError, messageOf } from '../errors.js';
import { isRevision } from '../keys.js';
import type { Provenance, Transition } from '../model.js';
import { mapConcurrent } from '../util/concurrency.js';
import {
  nextTransitions,
  type CurrentListing,
  type ListOptions,
  type CurrentRecord,
  type RevisionInfo,
  type RevisionStore,
  type StoredRevision,
} from './types.js';

interface RevisionMetaFile extends RevisionInfo {
  provenance: Provenance;
}

export class LocalStore implements RevisionStore {
  readonly description: string;

  constructor(readonly root: string, description?: string) {
    this.description = description ?? `file://${root}`;
  }

  private documentDir(key: string): string {
    return path.join(this.root, ...key.split('/'));
  }

  /** No pages here: progress is the whole listing at once. */
  async listCurrent(options: ListOptions = {}): Promise<Map<string, CurrentListing>> {
    options.onSent?.();
    const keys = await this.listDocumentKeys();
    const records = await this.readCurrent(keys);
    const listing = new Map<string, CurrentListing>();
    for (const [key, record] of records) {
      if (!record) continue;
      const revision = record.revision;
      listing.set(key, { key, revision, confirms: (candidate) => candidate === revision });
    }
    return listing;
  }

  /** Keys of every document folder holding a `current` file. */
  private async listDocumentKeys(): Promise<string[]> {
    const keys: string[] = [];
    for (const domain of await this.subdirectories(this.root)) {
      for (const type of await this.subdirectories(path.join(this.root, domain))) {
        for (const id of await this.subdirectories(path.join(this.root, domain, type))) {
          keys.push(`${domain}/${type}/${id}`);
        }
      }
    }
    return keys;
  }

  private async subdirectories(dir: string): Promise<string[]> {
    try {
      const entries = await readdir(dir, { withFileTypes: true });
      return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
    } catch (error) {
      if (isMissing(error)) return [];
      throw storeError(`cannot list ${dir}`, error);
    }
  }

  async readCurrent(keys: readonly string[]): Promise<Map<string, CurrentRecord | null>> {
    const records = await mapConcurrent(keys, 32, (key) => this.readOneCurrent(key));
    return new Map(keys.map((key, index) => [key, records[index] ?? null]));
  }

  private async readOneCurrent(key: string): Promise<CurrentRecord | null> {
    const file = path.join(this.documentDir(key), 'current');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if (isMissing(error)) return null;
      throw storeError(`cannot read ${file}`, error);
    }
    try {
      const record = JSON.parse(text) as CurrentRecord;
      if (!isRevision(record.revision) || !Array.isArray(record.transitions)) throw new Error('unexpected shape');
      return { revision: record.revision, transitions: record.transitions, tag: record.revision };
    } catch (error) {
      throw new StaticsError('store', `corrupt current record for ${key}: ${messageOf(error)}`, { file });
    }
  }

  async putRevision(key: string, revision: string, bytes: Buffer, info: RevisionInfo, provenance: Provenance): Promise<void> {
    const dir = this.documentDir(key);
    const file = path.join(dir, revision);
    if (await exists(file)) return;
    await mkdir(dir, { recursive: true });
    // Metadata first: a revision exists once its bytes do, and then its metadata is there too.
    const meta: RevisionMetaFile = { ...info, provenance };
    await atomicWrite(path.join(dir, `${revision}.meta.json`), JSON.stringify(meta) + '\n');
    await atomicWrite(file, bytes);
  }

  async statRevision(key: string, revision: string): Promise<RevisionInfo | null> {
    const meta = await this.readRevisionMeta(key, revision);
    return meta ? { mediaType: meta.mediaType, size: meta.size } : null;
  }

  private async readRevisionMeta(key: string, revision: string): Promise<RevisionMetaFile | null> {
    if (!isRevision(revision)) return null;
    const dir = this.documentDir(key);
    if (!(await exists(path.join(dir, revision)))) return null;
    try {
      return JSON.parse(await readFile(path.join(dir, `${revision}.meta.json`), 'utf8')) as RevisionMetaFile;
    } catch (error) {
      if (isMissing(error)) {
        const size = (await stat(path.join(dir, revision))).size;
        return { mediaType: 'application/octet-stream', size, provenance: {} };
      }
      throw storeError(`cannot read metadata of ${key}@${revision}`, error);
    }
  }

  async getRevision(key: string, revision: string): Promise<StoredRevision | null> {
    const meta = await this.readRevisionMeta(key, revision);
    if (!meta) return null;
    const bytes = await readFile(path.join(this.documentDir(key), revision));
    return { revision, bytes, mediaType: meta.mediaType, provenance: meta.provenance };
  }

  async listRevisions(key: string): Promise<string[]> {
    try {
      return (await readdir(this.documentDir(key))).filter(isRevision);
    } catch (error) {
      if (isMissing(error)) return [];
      throw storeError(`cannot list revisions of ${key}`, error);
    }
  }

  async setCurrent(key: string, transition: Transition, expected: CurrentRecord | null): Promise<CurrentRecord> {
    const revision = transition.revision;
    if (!revision) throw new StaticsError('internal', `setCurrent needs a revision for ${key}`);
    await this.fence(key, expected);
    if (!(await exists(path.join(this.documentDir(key), revision)))) {
      // Never point `current` at a revision that is not there.
      throw new StaticsError('store', `revision ${revision} of ${key} is not stored`);
    }
    const record = { revision, transitions: nextTransitions(transition, expected) };
    await this.appendHistory(key, transition);
    await atomicWrite(path.join(this.documentDir(key), 'current'), JSON.stringify(record, null, 2) + '\n');
    return record;
  }

  async deleteCurrent(key: string, transition: Transition, expected: CurrentRecord): Promise<void> {
    await this.fence(key, expected);
    await this.appendHistory(key, transition);
    await rm(path.join(this.documentDir(key), 'current'), { force: true });
  }

  /** The local equivalent of If-Match: refuse when `current` is not what the caller read. */
  private async fence(key: string, expected: CurrentRecord | null): Promise<void> {
    const actual = await this.readOneCurrent(key);
    if ((actual?.revision ?? null) !== (expected?.revision ?? null)) {
      throw new StaticsError('stale', `current of ${key} moved to ${actual?.revision ?? '(none)'} while writing`);
    }
  }

  /** Kept beside `current` so history outlives a delete, as bucket versioning does in S3. */
  private async appendHistory(key: string, transition: Transition): Promise<void> {
    await mkdir(this.documentDir(key), { recursive: true });
    await appendFile(path.join(this.documentDir(key), 'history.jsonl'), JSON.stringify(transition) + '\n');
  }

  async history(key: string): Promise<Transition[]> {
    let text: string;
    try {
      text = await readFile(path.join(this.documentDir(key), 'history.jsonl'), 'utf8');
    } catch (error) {
      if (isMissing(error)) return (await this.readOneCurrent(key))?.transitions ?? [];
      throw storeError(`cannot read history of ${key}`, error);
    }
    const transitions: Transition[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        transitions.push(JSON.parse(line) as Transition);
      } catch {
        // A torn last line from a crash mid-append: the record in `current` still holds the truth.
      }
    }
    return transitions.reverse();
  }

  async close(): Promise<void> {}
}

export async function atomicWrite(file: string, data: string | Buffer): Promise<void> {
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temp, data);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw storeError(`cannot write ${file}`, error);
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw storeError(`cannot read ${file}`, error);
  }
}

export function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT' || (error as NodeJS.ErrnoException)?.code === 'ENOTDIR';
}

function storeError(message: string, error: unknown): StaticsError {
  if (error instanceof StaticsError) return error;
  return new StaticsError('store', `${message}: ${messageOf(error)}`, undefined, { cause: error });
}
