/**
 * Revisions are immutable and named by their sha256, so a cached copy never goes stale: the cache
 * only needs a size bound (least recently used out first) and, on disk, a digest check on read.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { StoredRevision } from '../store/types.js';

export interface RevisionCacheOptions {
  /** Bytes of revisions kept in memory. */
  maxBytes: number;
  /** A directory that keeps fetched revisions across restarts (optional). */
  dir?: string;
}

interface DiskMeta {
  mediaType: string;
  provenance: StoredRevision['provenance'];
}

export class RevisionCache {
  private readonly entries = new Map<string, StoredRevision>();
  private readonly loading = new Map<string, Promise<StoredRevision | null>>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly options: RevisionCacheOptions) {}

  /** The revision from memory, disk or `load` (one load at a time per revision). */
  async get(key: string, revision: string, load: () => Promise<StoredRevision | null>): Promise<StoredRevision | null> {
    const id = `${key}@${revision}`;
    const cached = this.entries.get(id);
    if (cached) {
      this.hits++;
      // Re-inserted: a Map iterates in insertion order, so the first entry is the least recent.
      this.entries.delete(id);
      this.entries.set(id, cached);
      return cached;
    }
    const pending = this.loading.get(id);
    if (pending) return pending;
    const fetching = this.fetch(key, revision, load).finally(() => this.loading.delete(id));
    this.loading.set(id, fetching);
    return fetching;
  }

  private async fetch(key: string, revision: string, load: () => Promise<StoredRevision | null>): Promise<StoredRevision | null> {
    const fromDisk = await this.readDisk(key, revision);
    if (fromDisk) {
      this.hits++;
      this.remember(key, fromDisk);
      return fromDisk;
    }
    this.misses++;
    const stored = await load();
    if (!stored) return null;
    this.remember(key, stored);
    await this.writeDisk(key, stored);
    return stored;
  }

  private remember(key: string, stored: StoredRevision): void {
    const size = stored.bytes.length;
    if (size > this.options.maxBytes) return;
    this.entries.set(`${key}@${stored.revision}`, stored);
    this.bytes += size;
    for (const [id, entry] of this.entries) {
      if (this.bytes <= this.options.maxBytes) break;
      this.entries.delete(id);
      this.bytes -= entry.bytes.length;
    }
  }

  private diskPath(key: string, revision: string): string | null {
    return this.options.dir ? path.join(this.options.dir, ...key.split('/'), revision) : null;
  }

  private async readDisk(key: string, revision: string): Promise<StoredRevision | null> {
    const file = this.diskPath(key, revision);
    if (!file) return null;
    try {
      const [bytes, metaText] = await Promise.all([readFile(file), readFile(`${file}.json`, 'utf8')]);
      if (createHash('sha256').update(bytes).digest('hex') !== revision) {
        // Damaged on disk: drop it and fetch again.
        await rm(file, { force: true });
        return null;
      }
      const meta = JSON.parse(metaText) as DiskMeta;
      return { revision, bytes, mediaType: meta.mediaType, provenance: meta.provenance ?? {} };
    } catch {
      return null;
    }
  }

  /** Best effort: a cache that cannot be written only costs a fetch next time. */
  private async writeDisk(key: string, stored: StoredRevision): Promise<void> {
    const file = this.diskPath(key, stored.revision);
    if (!file) return;
    try {
      await mkdir(path.dirname(file), { recursive: true });
      const meta: DiskMeta = { mediaType: stored.mediaType, provenance: stored.provenance };
      // Metadata first: the bytes are what marks an entry as present.
      await atomicReplace(`${file}.json`, JSON.stringify(meta));
      await atomicReplace(file, stored.bytes);
    } catch {
      // Ignored on purpose (see above).
    }
  }
}

async function atomicReplace(file: string, data: string | Buffer): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temp, data);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
