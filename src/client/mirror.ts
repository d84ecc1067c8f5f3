/**
 * A directory kept equal to the latest revisions under a prefix: `DIR/<domain>/<type>/<id>` holds
 * the bytes `current` names, replaced atomically (temp file in the same directory, fsync, rename,
 * fsync of the directory), so a reader never sees half a file. The Pinterest Config v2 daemon,
 * with a watch in ZooKeeper's place.
 *
 * `DIR/.statics-mirror.json` records the revision of every file written and the stream position
 * they correspond to. At start, files are hashed (a revision is the sha256 of the bytes): when
 * they match the record, the watch resumes from that position and nothing is listed; otherwise
 * it starts with a snapshot of the store. Either way only documents that differ are fetched.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { StaticsError, messageOf } from '../errors.js';
import { isValidName, shortRevision } from '../keys.js';
import { mapConcurrent, sleep } from '../util/concurrency.js';
import type { StaticsClient } from './client.js';
import { isStreamId, normalizePrefix, type DeliverySource, type WatchEvent } from './events.js';
import { readStoreState } from './snapshot.js';
import type { Watch } from './watch.js';

export const MIRROR_STATE_FILE = '.statics-mirror.json';
const MIRROR_LOCK_FILE = '.statics-mirror.lock';
const STATE_FORMAT = 'statics-mirror';

export interface MirrorOptions {
  /** The directory to keep; created when missing. */
  dir: string;
  /** Only documents whose key starts with this (e.g. `payments/`). Default: all. */
  prefix?: string;
  client: StaticsClient;
  /** Store polling while Redis is unreachable. Default: the client's. */
  pollIntervalMs?: number;
  /** fsync files and directories before renaming into place. Default true. */
  fsync?: boolean;
  /** One line per change and per notable event (no trailing newline). */
  log?: (line: string) => void;
}

export interface MirrorSummary {
  written: number;
  removed: number;
  /** Documents under the prefix after the sync. */
  documents: number;
}

interface MirrorStateFile {
  format: typeof STATE_FORMAT;
  version: 1;
  store: string;
  /** The stream the position belongs to (Redis address, namespace), or null without Redis. */
  stream: string | null;
  prefix: string;
  position: string | null;
  /** Redis's run_id when the position was read: a restart since loses entries after it. */
  runId?: string;
  /** Revision of every file written, by key. */
  documents: Record<string, string>;
  savedAt: string;
}

export class DirectoryMirror {
  readonly dir: string;
  readonly prefix: string;
  private readonly client: StaticsClient;
  private readonly fsync: boolean;
  private readonly pollIntervalMs: number | undefined;
  private readonly log: (line: string) => void;
  /** Revision of each file on disk that the mirror manages. */
  private readonly documents = new Map<string, string>();
  private saved: MirrorStateFile | null;
  private watch: Watch | undefined;
  private saveTimer: NodeJS.Timeout | undefined;
  private saving: Promise<void> = Promise.resolve();
  private closing = false;
  private lockHandle: Awaited<ReturnType<typeof open>> | undefined;

  private constructor(options: MirrorOptions, saved: MirrorStateFile | null) {
    this.dir = path.resolve(options.dir);
    this.prefix = normalizePrefix(options.prefix);
    this.client = options.client;
    this.fsync = options.fsync ?? true;
    this.log = options.log ?? (() => {});
    this.pollIntervalMs = options.pollIntervalMs;
    this.saved = saved;
  }

  /**
   * Takes the directory (one mirror per directory), reads its state file and hashes the files
   * under the prefix; files of an earlier run's other prefix are removed.
   */
  static async open(options: MirrorOptions): Promise<DirectoryMirror> {
    const dir = path.resolve(options.dir);
    try {
      await mkdir(dir, { recursive: true });
    } catch (error) {
      throw new StaticsError('config', `cannot create the mirror directory ${dir}: ${messageOf(error)}`);
    }
    const mirror = new DirectoryMirror(options, await readState(dir));
    await mirror.lock();
    try {
      await mirror.scan();
    } catch (error) {
      await mirror.unlock();
      throw error;
    }
    return mirror;
  }

  /** Brings the directory up to date from one read of the store, without Redis; no position is recorded. */
  async syncOnce(): Promise<MirrorSummary> {
    const states = await readStoreState(this.client.store, this.prefix, this.documents);
    const summary: MirrorSummary = { written: 0, removed: 0, documents: states.size };
    const keys = [...new Set([...states.keys(), ...this.documents.keys()])].sort();
    for (const key of keys) {
      const state = states.get(key);
      const have = this.documents.get(key);
      if (!state) {
        await this.remove(key, 'snapshot');
        summary.removed++;
      } else if (have !== state.revision) {
        await this.write(key, state.revision, 'snapshot');
        summary.written++;
      }
    }
    await this.saveNow(null);
    return summary;
  }

  /**
   * Starts following changes; resolves once the directory has caught up (from the recorded
   * position through the stream, or from a snapshot of the store). `done` then settles when
   * the mirror stops.
   */
  async start(): Promise<void> {
    if (this.watch) throw new StaticsError('internal', 'the mirror is already started');
    const resumable = this.resumePosition();
    const known = new Map<string, string | null>(this.documents);
    this.watch = this.client.watch(this.prefix, (event, context) => this.apply(event, context.source), {
      ...(resumable ? { from: resumable, runId: this.saved?.runId } : { snapshot: true }),
      known,
      ...(this.pollIntervalMs !== undefined ? { pollIntervalMs: this.pollIntervalMs } : {}),
      onNotice: (notice) => this.log(notice.message),
    });
    if (resumable) this.log(`resuming the stream after ${resumable}`);
    await this.watch.ready;
    this.scheduleSave();
  }

  /** Settles when the mirror stops: after close(), or with the error that stopped it. */
  get done(): Promise<void> {
    return this.watch?.done ?? Promise.resolve();
  }

  /** Stops watching, records the state and releases the directory. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.watch?.close();
    clearTimeout(this.saveTimer);
    await this.saving.catch(() => {});
    try {
      await this.saveNow(this.watch?.position ?? null);
    } finally {
      await this.unlock();
    }
  }

  /** The recorded position, when the files on disk are exactly what was recorded with it. */
  private resumePosition(): string | null {
    const saved = this.saved;
    if (!saved?.position || !isStreamId(saved.position)) return null;
    if (saved.store !== this.client.description || saved.stream !== this.client.stream || saved.prefix !== this.prefix) return null;
    const recorded = Object.entries(saved.documents).filter(([key]) => key.startsWith(this.prefix));
    if (recorded.length !== this.documents.size) return null;
    for (const [key, revision] of recorded) if (this.documents.get(key) !== revision) return null;
    return saved.position;
  }

  private async apply(event: WatchEvent, source: DeliverySource): Promise<void> {
    if (event.revision === null) await this.remove(event.key, source);
    else await this.write(event.key, event.revision, source);
    this.scheduleSave();
  }

  private async write(key: string, revision: string, source: DeliverySource): Promise<void> {
    const stored = await this.persist(`fetch ${key}@${shortRevision(revision)}`, async () => {
      const found = await this.client.getRevision(key, revision);
      if (!found) throw new StaticsError('not-found', `revision ${revision} of ${key} is not in ${this.client.description}`);
      return found;
    });
    const file = this.fileOf(key);
    await this.persist(`write ${file}`, () => this.replaceFile(file, stored.bytes));
    this.documents.set(key, revision);
    this.log(`updated ${key} ${shortRevision(revision)} via ${source}`);
  }

  private async remove(key: string, source: DeliverySource): Promise<void> {
    const file = this.fileOf(key);
    await this.persist(`remove ${file}`, async () => {
      await rm(file, { force: true });
      // Empty folders of a pruned type or domain go too; ENOTEMPTY just means others remain.
      for (const folder of [path.dirname(file), path.dirname(path.dirname(file))]) {
        await rmdir(folder).catch(() => {});
      }
    });
    const had = this.documents.delete(key);
    if (had) this.log(`removed ${key} via ${source}`);
  }

  /** Temp file beside the target, fsync, rename over it, fsync the directory. */
  private async replaceFile(file: string, bytes: Buffer): Promise<void> {
    const folder = path.dirname(file);
    await mkdir(folder, { recursive: true });
    // Dot-prefixed: a document id never starts with a dot, so no reader mistakes it for one.
    const temp = path.join(folder, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      const handle = await open(temp, 'w', 0o644);
      try {
        await handle.writeFile(bytes);
        if (this.fsync) await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, file);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    if (this.fsync) await syncDirectory(folder);
  }

  /**
   * Runs a step of applying a change until it succeeds: the store or the disk failing for a
   * while must not make the mirror skip a change. Each failure is logged; closing ends it.
   */
  private async persist<T>(what: string, step: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await step();
      } catch (error) {
        if (this.closing || !this.watch) throw error;
        const delay = Math.min(250 * 2 ** attempt, 30_000);
        this.log(`cannot ${what}: ${messageOf(error)}; trying again in ${Math.round(delay / 100) / 10}s`);
        await sleep(delay);
        if (this.closing) throw error;
      }
    }
  }

  private fileOf(key: string): string {
    return path.join(this.dir, ...key.split('/'));
  }

  /** Hashes the managed files; clears temp files of a crashed run and files of a former prefix. */
  private async scan(): Promise<void> {
    const files: Array<{ key: string; file: string }> = [];
    for (const domain of await entries(this.dir, 'dir')) {
      for (const type of await entries(path.join(this.dir, domain), 'dir')) {
        const folder = path.join(this.dir, domain, type);
        for (const name of await readdir(folder).catch(() => [] as string[])) {
          if (name.startsWith('.') && name.endsWith('.tmp')) {
            await rm(path.join(folder, name), { force: true });
          }
        }
        for (const id of await entries(folder, 'file')) files.push({ key: `${domain}/${type}/${id}`, file: path.join(folder, id) });
      }
    }
    const formerlyOurs = new Set(Object.keys(this.saved?.documents ?? {}));
    const managed = files.filter(({ key }) => key.startsWith(this.prefix));
    const hashes = await mapConcurrent(managed, 16, async ({ file }) => createHash('sha256').update(await readFile(file)).digest('hex'));
    managed.forEach(({ key }, index) => this.documents.set(key, hashes[index]!));
    for (const { key, file } of files) {
      if (key.startsWith(this.prefix) || !formerlyOurs.has(key)) continue;
      await rm(file, { force: true });
      this.log(`removed ${key}: outside the prefix ${this.prefix}`);
    }
  }

  private scheduleSave(): void {
    if (this.saveTimer || this.closing) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      // Read now, together: the position and the files it corresponds to.
      void this.saveNow(this.watch?.position ?? null).catch((error: unknown) => this.log(`cannot record the mirror state: ${messageOf(error)}`));
    }, 200);
  }

  private saveNow(position: string | null): Promise<void> {
    const state: MirrorStateFile = {
      format: STATE_FORMAT,
      version: 1,
      store: this.client.description,
      stream: this.client.stream,
      prefix: this.prefix,
      position,
      ...(position && this.watch?.runId ? { runId: this.watch.runId } : {}),
      documents: Object.fromEntries([...this.documents].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      savedAt: new Date().toISOString(),
    };
    const text = JSON.stringify(state, null, 2) + '\n';
    this.saving = this.saving.catch(() => {}).then(async () => {
      await this.replaceFile(path.join(this.dir, MIRROR_STATE_FILE), Buffer.from(text));
      this.saved = state;
    });
    return this.saving;
  }

  /** One mirror per directory: two would undo each other's writes and records. */
  private async lock(): Promise<void> {
    const file = path.join(this.dir, MIRROR_LOCK_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        this.lockHandle = await open(file, 'wx');
        await this.lockHandle.writeFile(`${process.pid}\n`);
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new StaticsError('config', `cannot lock ${this.dir}: ${messageOf(error)}`);
      }
      const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new StaticsError('config', `${this.dir} is already being mirrored by process ${pid} (${MIRROR_LOCK_FILE})`);
      }
      // Left by a mirror that is gone.
      await rm(file, { force: true });
    }
    throw new StaticsError('config', `cannot lock ${this.dir}: ${MIRROR_LOCK_FILE} keeps reappearing`);
  }

  private async unlock(): Promise<void> {
    if (!this.lockHandle) return;
    await this.lockHandle.close().catch(() => {});
    this.lockHandle = undefined;
    await rm(path.join(this.dir, MIRROR_LOCK_FILE), { force: true });
  }
}

async function readState(dir: string): Promise<MirrorStateFile | null> {
  try {
    const state = JSON.parse(await readFile(path.join(dir, MIRROR_STATE_FILE), 'utf8')) as MirrorStateFile;
    if (state.format !== STATE_FORMAT || state.version !== 1 || typeof state.documents !== 'object' || state.documents === null) return null;
    return state;
  } catch {
    // Missing or damaged: start from a snapshot; the files themselves are hashed anyway.
    return null;
  }
}

/** Names of valid-named subdirectories or files of `dir` (none when it is missing). */
async function entries(dir: string, kind: 'dir' | 'file'): Promise<string[]> {
  try {
    const found = await readdir(dir, { withFileTypes: true });
    return found.filter((entry) => (kind === 'dir' ? entry.isDirectory() : entry.isFile()) && isValidName(entry.name)).map((entry) => entry.name);
  } catch {
    return [];
  }
}

async function syncDirectory(folder: string): Promise<void> {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } catch {
    // Some filesystems refuse fsync on directories; the rename itself is still atomic.
  } finally {
    await handle.close();
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
