/**
 * prepareDocument on worker threads: parsing YAML is most of the cost of reading a repository,
 * and it is pure, so every core can take a share. Tasks go out in small batches to the least
 * busy thread; each task's promise settles with its own items, so the caller keeps its order.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { StaticsError, messageOf } from '../errors.js';
import type { DesiredItem } from './prepare.js';
import type { DesiredFile } from './walk.js';
import type { WorkerInit, WorkerReply, WorkerTask } from './worker.js';

/** Tasks sent in one message: fewer messages, and still a fair spread over the threads. */
const BATCH = 16;

interface Pending {
  resolve(items: DesiredItem[]): void;
  reject(error: Error): void;
}

interface Thread {
  worker: Worker;
  outstanding: Map<number, Pending>;
  failed?: Error;
}

/** Where the compiled worker is; absent when running from sources or inside a bundle. */
export function defaultWorkerUrl(): URL | undefined {
  const url = new URL('./worker.js', import.meta.url);
  try {
    return url.protocol === 'file:' && existsSync(fileURLToPath(url)) ? url : undefined;
  } catch {
    return undefined;
  }
}

/** Threads worth starting here: one per core, none on a single core. */
export function defaultThreadCount(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return cores > 1 ? cores : 0;
}

export class PreparePool {
  private readonly threads: Thread[];
  private readonly batch: WorkerTask[] = [];
  private nextId = 0;
  private flushScheduled = false;
  private closed = false;

  constructor(init: WorkerInit, options: { threads: number; workerUrl: URL }) {
    this.threads = Array.from({ length: Math.max(1, options.threads) }, () => this.startThread(init, options.workerUrl));
  }

  /** The items prepareDocument gives for this file, computed on one of the threads. */
  prepare(file: DesiredFile, bytes: Uint8Array): Promise<DesiredItem[]> {
    if (this.closed) return Promise.reject(new StaticsError('internal', 'the parser threads were already stopped'));
    const id = this.nextId++;
    const promise = new Promise<DesiredItem[]>((resolve, reject) => {
      const thread = this.pickThread();
      if (thread.failed) {
        reject(thread.failed);
        return;
      }
      thread.outstanding.set(id, { resolve, reject });
      this.batch.push({ id, file, bytes });
    });
    if (this.batch.length >= BATCH) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
    return promise;
  }

  /** Stops the threads; anything still outstanding is rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const stopped = new StaticsError('internal', 'the parser threads were stopped');
    await Promise.all(
      this.threads.map(async (thread) => {
        this.failAll(thread, stopped);
        await thread.worker.terminate().catch(() => {});
      }),
    );
  }

  private startThread(init: WorkerInit, workerUrl: URL): Thread {
    const worker = new Worker(workerUrl, { workerData: init });
    const thread: Thread = { worker, outstanding: new Map() };
    worker.unref();
    worker.on('message', (reply: WorkerReply) => {
      if ('failed' in reply) {
        this.failAll(thread, new StaticsError('internal', `a parser thread failed: ${reply.failed}`));
        return;
      }
      for (const { id, items } of reply.results) {
        const pending = thread.outstanding.get(id);
        if (!pending) continue;
        thread.outstanding.delete(id);
        pending.resolve(items.map(reviveBuffers));
      }
      if (thread.outstanding.size === 0) worker.unref();
    });
    worker.on('error', (error) => this.failAll(thread, new StaticsError('internal', `a parser thread failed: ${messageOf(error)}`)));
    worker.on('exit', (code) => {
      if (!this.closed) this.failAll(thread, new StaticsError('internal', `a parser thread stopped unexpectedly (exit code ${code})`));
    });
    return thread;
  }

  /** The thread with the least work outstanding (a failed one only when all have failed). */
  private pickThread(): Thread {
    let best = this.threads[0]!;
    for (const thread of this.threads) {
      if (best.failed && !thread.failed) best = thread;
      else if (!thread.failed && thread.outstanding.size < best.outstanding.size) best = thread;
    }
    return best;
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.batch.length === 0) return;
    const tasks = this.batch.splice(0);
    // Each task was placed on a thread when queued; send each thread its own.
    for (const thread of this.threads) {
      const mine = tasks.filter((task) => thread.outstanding.has(task.id));
      if (mine.length === 0 || thread.failed) continue;
      thread.worker.ref();
      thread.worker.postMessage(mine);
    }
  }

  private failAll(thread: Thread, error: Error): void {
    thread.failed ??= error;
    const pending = [...thread.outstanding.values()];
    thread.outstanding.clear();
    for (const { reject } of pending) reject(error);
  }
}

/** Buffers cross threads as plain Uint8Arrays; documents carry Buffers. */
function reviveBuffers(item: DesiredItem): DesiredItem {
  if (!('document' in item)) return item;
  const bytes = item.document.bytes as Uint8Array;
  return { document: { ...item.document, bytes: Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) } };
}
