/** One s3rver and one redis-server for a test file, with a fresh bucket and namespace per test. */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { S3Store } from '../../src/store/s3.js';
import { startRedis, type TestRedis } from './redis.js';
import { startS3, type TestS3 } from './s3.js';

export interface Services {
  s3: TestS3;
  redis: TestRedis;
  stop(): Promise<void>;
}

export async function startServices(): Promise<Services> {
  const [s3, redis] = await Promise.all([startS3(), startRedis()]);
  return { s3, redis, stop: async () => void (await Promise.all([s3.stop(), redis.stop()])) };
}

export interface Target {
  bucket: string;
  namespace: string;
  storeUrl: string;
  /** Environment for CLI subprocesses writing to this target. */
  env: Record<string, string>;
  store: S3Store;
  redis: Redis;
  close(): Promise<void>;
}

/** A fresh bucket (with website hosting) and Redis namespace, so tests never see each other. */
export async function freshTarget(services: Services): Promise<Target> {
  const bucket = `t-${randomBytes(5).toString('hex')}`;
  await services.s3.createBucket(bucket);
  const namespace = `${bucket}:`;
  const storeUrl = `s3://${bucket}/cfg`;
  const store = new S3Store({ bucket, prefix: 'cfg', endpoint: services.s3.endpoint, region: services.s3.region, credentials: services.s3.credentials });
  const redis = new Redis(services.redis.url);
  return {
    bucket,
    namespace,
    storeUrl,
    env: { ...services.s3.env(), STATICS_STORE: storeUrl, STATICS_REDIS_URL: services.redis.url, STATICS_REDIS_NAMESPACE: namespace },
    store,
    redis,
    async close() {
      redis.disconnect();
      await store.close();
    },
  };
}

/** Polls until `condition` holds (errors count as "not yet"). */
export async function waitFor(condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await condition()) return;
    } catch {
      // Not there yet.
    }
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
