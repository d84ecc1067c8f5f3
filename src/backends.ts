/** Opens the store and coordinator that settings name; the one place that knows the implementations. */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Settings } from './config/settings.js';
import { LocalCoordinator } from './coord/local.js';
import type { Coordinator } from './coord/types.js';
import { StaticsError } from './errors.js';
import { LocalStore } from './store/local.js';
import type { RevisionStore } from './store/types.js';

export type BackendSettings = Pick<Settings, 'store' | 'redisUrl' | 'redisNamespace' | 'lockTtlMs' | 's3Endpoint'>;

export async function openStore(settings: Pick<Settings, 'store' | 's3Endpoint'>): Promise<RevisionStore> {
  if (settings.store.startsWith('file://')) {
    const root = fileURLToPath(settings.store.startsWith('file:///') ? settings.store : `file://${path.resolve(settings.store.slice(7))}`);
    const info = await stat(root).catch(() => null);
    if (info && !info.isDirectory()) throw new StaticsError('config', `store ${settings.store} is not a directory`);
    return new LocalStore(root, settings.store);
  }
  // Loaded on demand: the embedded store should not pay for the AWS SDK's start-up.
  const { S3Store, parseS3Url } = await import('./store/s3.js');
  return new S3Store({ ...parseS3Url(settings.store), endpoint: settings.s3Endpoint });
}

/** The coordinator for writes: Redis when configured, else file locks beside a local store. */
export async function openCoordinator(settings: BackendSettings, store: RevisionStore): Promise<Coordinator> {
  if (settings.redisUrl) {
    // Loaded on demand: the embedded store should not pay for the Redis client's start-up.
    const { RedisCoordinator } = await import('./coord/redis.js');
    return RedisCoordinator.connect({ url: settings.redisUrl, namespace: settings.redisNamespace, lockTtlMs: settings.lockTtlMs });
  }
  if (store instanceof LocalStore) return new LocalCoordinator(store.root, { ttlMs: settings.lockTtlMs });
  throw new StaticsError('config', `writing to ${store.description} needs Redis for locks: set --redis or STATICS_REDIS_URL`);
}

/** Opens store and coordinator, runs `work`, always closes both. */
export async function withBackends<T>(settings: BackendSettings, work: (store: RevisionStore, coord: Coordinator) => Promise<T>): Promise<T> {
  return withStore(settings, async (store) => {
    const coord = await openCoordinator(settings, store);
    try {
      return await work(store, coord);
    } finally {
      await coord.close();
    }
  });
}

/** Opens the store alone (planning and reading never need coordination), runs `work`, closes it. */
export async function withStore<T>(settings: BackendSettings, work: (store: RevisionStore) => Promise<T>): Promise<T> {
  const store = await openStore(settings);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}
