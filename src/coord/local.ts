/**
 * Coordination for the embedded store: lock files beside the store, an append-only event log as
 * the broadcast. A lock file is created exclusively (O_EXCL); its holder keeps it open and renews
 * it by touching its mtime through that descriptor, so a renewal can never touch a successor's file.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rm, stat, mkdir, appendFile, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { StaticsError, messageOf } from '../errors.js';
import { backoffDelay, sleep } from '../util/concurrency.js';
import { describeHolder, type AcquireOptions, type ChangeEvent, type Coordinator, type HeldLock, type LockInfo, type LockOwner } from './types.js';

interface LockFileBody {
  token: string;
  owner: LockOwner;
  ttlMs: number;
}

export interface LocalCoordinatorOptions {
  /** Lock lifetime without renewal. */
  ttlMs: number;
}

export class LocalCoordinator implements Coordinator {
  readonly description: string;
  private readonly lockRoot: string;

  constructor(private readonly root: string, private readonly options: LocalCoordinatorOptions) {
    this.description = `file locks in ${path.join(root, '.locks')}`;
    this.lockRoot = path.join(root, '.locks');
  }

  private lockFile(key: string): string {
    return path.join(this.lockRoot, `${key.replaceAll('/', ':')}.lock`);
  }

  async acquire(key: string, options: AcquireOptions): Promise<HeldLock> {
    const file = this.lockFile(key);
    await mkdir(this.lockRoot, { recursive: true });
    const deadline = Date.now() + options.timeoutMs;
    const body: LockFileBody = {
      token: randomBytes(16).toString('hex'),
      owner: { host: hostname(), pid: process.pid, operation: options.operation, since: new Date().toISOString() },
      ttlMs: this.options.ttlMs,
    };
    for (let attempt = 0; ; attempt++) {
      const handle = await tryCreate(file, JSON.stringify(body) + '\n');
      if (handle) return new LocalLock(key, file, handle, this.options.ttlMs, path.join(this.root, 'events.jsonl'));
      await breakIfExpired(file);
      if (Date.now() >= deadline) {
        const info = await this.lockInfo(key);
        throw new StaticsError('lock-timeout', `timed out waiting for the lock on ${key}${describeHolder(info)}`);
      }
      await sleep(Math.min(backoffDelay(attempt, 20, 1000), Math.max(0, deadline - Date.now())));
    }
  }

  async lockInfo(key: string): Promise<LockInfo | null> {
    const file = this.lockFile(key);
    try {
      const [text, info] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
      const body = JSON.parse(text) as LockFileBody;
      return { key, owner: body.owner, expiresInMs: info.mtimeMs + body.ttlMs - Date.now() };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      return { key, owner: null, expiresInMs: null };
    }
  }

  async forceUnlock(key: string): Promise<boolean> {
    const had = (await this.lockInfo(key)) !== null;
    await rm(this.lockFile(key), { force: true });
    return had;
  }

  async readMirror(keys: readonly string[]): Promise<Map<string, string | null>> {
    // The local store is its own index: there is no separate mirror to drift.
    return new Map(keys.map((key) => [key, null]));
  }

  readonly mirrors = false;

  async close(): Promise<void> {}
}

class LocalLock implements HeldLock {
  /** The embedded store is read as cheaply as any record of it: nothing is kept on the side. */
  readonly recorded = undefined;
  private readonly renewal: NodeJS.Timeout;
  private released = false;

  constructor(
    readonly key: string,
    private readonly file: string,
    private readonly handle: FileHandle,
    private readonly ttlMs: number,
    private readonly eventsFile: string,
  ) {
    this.renewal = setInterval(() => {
      const now = new Date();
      this.handle.utimes(now, now).catch(() => {});
    }, Math.max(50, Math.floor(ttlMs / 3)));
    this.renewal.unref();
  }

  async assertHeld(): Promise<void> {
    try {
      const [mine, onDisk] = await Promise.all([this.handle.stat(), stat(this.file)]);
      if (mine.ino !== onDisk.ino) throw new Error('taken over by another writer');
      if (Date.now() > mine.mtimeMs + this.ttlMs) throw new Error('expired');
    } catch (error) {
      throw new StaticsError('lock-lost', `lost the lock on ${this.key}: ${messageOf(error)}`);
    }
  }

  async recordAndRelease(event: ChangeEvent): Promise<void> {
    try {
      // One small O_APPEND write per event, so concurrent writers never interleave within a line.
      await appendFile(this.eventsFile, JSON.stringify(event) + '\n');
    } finally {
      await this.release();
    }
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.renewal);
    try {
      const [mine, onDisk] = await Promise.all([this.handle.stat(), stat(this.file)]);
      if (mine.ino === onDisk.ino) await rm(this.file, { force: true });
    } catch {
      // Already gone: nothing of ours to release.
    } finally {
      await this.handle.close().catch(() => {});
    }
  }
}

async function tryCreate(file: string, content: string): Promise<FileHandle | null> {
  try {
    const handle = await open(file, 'wx');
    await handle.writeFile(content);
    return handle;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return null;
    throw new StaticsError('coord', `cannot create lock file ${file}: ${messageOf(error)}`);
  }
}

/**
 * Removes an expired lock. Breaking is itself serialised by an exclusive `.break` file, and the
 * lock is re-checked (same inode, still expired) under it, so two breakers cannot remove a fresh lock.
 */
async function breakIfExpired(file: string): Promise<void> {
  const expired = await expiredInode(file);
  if (expired === null) return;
  const breaker = `${file}.break`;
  let handle: FileHandle | null = null;
  try {
    handle = await open(breaker, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return;
    // A breaker that died mid-break leaves its file; it is only ever held for microseconds.
    const info = await stat(breaker).catch(() => null);
    if (info && Date.now() - info.mtimeMs > 10_000) await rm(breaker, { force: true });
    return;
  }
  try {
    if ((await expiredInode(file)) === expired) await rm(file, { force: true });
  } finally {
    await handle.close();
    await rm(breaker, { force: true });
  }
}

async function expiredInode(file: string): Promise<number | null> {
  try {
    const [info, text] = await Promise.all([stat(file), readFile(file, 'utf8')]);
    let ttlMs: number;
    try {
      ttlMs = (JSON.parse(text) as LockFileBody).ttlMs;
    } catch {
      // Being written right now by its creator, or torn by a crash: judge by age alone.
      ttlMs = 30_000;
    }
    return Date.now() > info.mtimeMs + ttlMs ? info.ino : null;
  } catch {
    return null;
  }
}

