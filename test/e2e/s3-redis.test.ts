/**
 * The whole loop against real services: s3rver (in-process) and a private redis-server, driving
 * the built CLI as a subprocess.
 */
import { createHash, randomBytes } from 'node:crypto';
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ListObjectsCommand, S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { repositoryOf, runCli, type CliResult } from '../support/cli.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { startS3, type TestS3 } from '../support/s3.js';

const PASSWORD = 'sw0rdfish-' + randomBytes(4).toString('hex');
let s3: TestS3;
let redis: TestRedis;
let client: S3Client;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  [s3, redis] = await Promise.all([startS3(), startRedis({ password: PASSWORD })]);
  client = new S3Client({ endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials, forcePathStyle: true });
});
afterAll(async () => {
  client?.destroy();
  await Promise.all([s3?.stop(), redis?.stop()]);
});
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function redisUrl(): string {
  return `redis://:${encodeURIComponent(PASSWORD)}@127.0.0.1:${redis.port}`;
}

async function setup(files: Record<string, string> = {}) {
  const bucket = `b-${randomBytes(5).toString('hex')}`;
  await s3.createBucket(bucket);
  const repo = await repositoryOf({
    'schemas/flags.schema.json': JSON.stringify({ type: 'object', required: ['enabled'], properties: { enabled: { type: 'boolean' } } }),
    'documents/payments/flags/checkout.yaml': 'enabled: true\npercent: 10\n',
    'documents/payments/flags/refunds.yaml': 'enabled: false\n',
    'documents/edge/robots/default.txt': 'User-agent: *\n',
    ...files,
  });
  cleanups.push(repo.cleanup);
  const namespace = `${bucket}:`;
  const env = { ...s3.env(), STATICS_STORE: `s3://${bucket}/config`, STATICS_REDIS_URL: redisUrl(), STATICS_REDIS_NAMESPACE: namespace };
  const cli = (args: string[], extra: Record<string, string | undefined> = {}) => runCli(args, { env: { ...env, ...extra } });
  return { bucket, dir: repo.dir, env, namespace, cli };
}

async function listKeys(bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let marker: string | undefined;
  for (;;) {
    const page = await client.send(new ListObjectsCommand({ Bucket: bucket, Marker: marker }));
    for (const object of page.Contents ?? []) keys.push(object.Key!);
    if (!page.IsTruncated) return keys.sort();
    marker = keys[keys.length - 1];
  }
}

function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

function expectClean(result: CliResult) {
  expect(result.stderr).not.toMatch(/Warning|NodeVersionSupport|DeprecationWarning/);
  expect(result.stdout + result.stderr).not.toContain(PASSWORD);
  expect(result.stdout + result.stderr).not.toContain(s3.credentials.secretAccessKey + ':');
}

describe('plan and apply against S3 and Redis', () => {
  it('writes exactly the contract keys, redirects current, mirrors and broadcasts', async () => {
    const { bucket, dir, cli, namespace } = await setup();
    const subscriber = new Redis(redisUrl());
    const events: Array<Record<string, unknown>> = [];
    await subscriber.subscribe(`${namespace}statics:changes`);
    subscriber.on('message', (_channel: string, message: string) => events.push(JSON.parse(message)));
    try {
      // Planning needs no Redis: a pull-request runner often has no route to it.
      const plan = await cli(['plan', dir, '--detailed-exitcode'], { STATICS_REDIS_URL: undefined });
      expectClean(plan);
      expect(plan.code).toBe(2);
      expect(plan.stdout).toContain('Plan: 3 to create, 0 to update, 0 to delete, 0 unchanged.');

      const apply = await cli(['apply', dir, '--auto-approve']);
      expectClean(apply);
      expect(apply.code).toBe(0);
      expect(apply.stdout).toMatch(/3 applied/);

      const again = await cli(['plan', dir, '--detailed-exitcode'], { STATICS_REDIS_URL: undefined });
      expect(again.code).toBe(0);

      const checkout = '{\n  "enabled": true,\n  "percent": 10\n}\n';
      const checkoutRevision = sha256(checkout);
      const robotsRevision = sha256('User-agent: *\n');
      const refundsRevision = sha256('{\n  "enabled": false\n}\n');
      // A new store keeps revisions apart from the pointers, so a plan lists only the pointers.
      expect(await listKeys(bucket)).toEqual([
        'config/.layout.split',
        'config/edge/robots/default/current',
        'config/payments/flags/checkout/current',
        'config/payments/flags/refunds/current',
        `config/~revisions/edge/robots/default/${robotsRevision}`,
        `config/~revisions/payments/flags/checkout/${checkoutRevision}`,
        `config/~revisions/payments/flags/refunds/${refundsRevision}`,
      ].sort());

      const redirect = await s3.websiteGet(bucket, '/config/payments/flags/checkout/current');
      expect(redirect.status).toBe(301);
      expect(redirect.location).toBe(`/config/~revisions/payments/flags/checkout/${checkoutRevision}`);
      const revision = await s3.websiteGet(bucket, redirect.location!);
      expect(revision.status).toBe(200);
      expect(revision.body.toString()).toBe(checkout);
      expect(revision.contentType).toMatch(/^application\/json/);
      const robots = await s3.websiteGet(bucket, (await s3.websiteGet(bucket, '/config/edge/robots/default/current')).location!);
      expect(robots.contentType).toMatch(/^text\/plain/);

      const reader = new Redis(redisUrl());
      try {
        expect(await reader.get(`${namespace}payments:flags:checkout`)).toBe(checkoutRevision);
        expect(await reader.get(`${namespace}edge:robots:default`)).toBe(robotsRevision);
        expect(await reader.keys(`${namespace}lock:*`)).toEqual([]);
      } finally {
        reader.disconnect();
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(events.map((event) => event.key).sort()).toEqual(['edge/robots/default', 'payments/flags/checkout', 'payments/flags/refunds']);
      expect(events.find((event) => event.key === 'payments/flags/checkout')).toMatchObject({ action: 'update', revision: checkoutRevision, previous: null });

      // An edit publishes exactly one more event, for that document.
      await writeFile(path.join(dir, 'documents/payments/flags/checkout.yaml'), 'enabled: true\npercent: 50\n');
      const recorder = s3.record();
      expect((await cli(['apply', dir, '--auto-approve'])).code).toBe(0);
      // Under the lock, Redis' record of the last write vouches for `current`: it is written, not read again.
      const touchingCurrent = recorder.stop().filter((request) => request.url.split('?')[0]!.endsWith('/checkout/current'));
      expect(touchingCurrent.map((request) => request.method)).toEqual(['PUT']);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(events).toHaveLength(4);
      expect(events[3]).toMatchObject({ key: 'payments/flags/checkout', previous: checkoutRevision });

      const history = JSON.parse((await cli(['history', 'payments/flags/checkout', '--json'])).stdout);
      expect(history.transitions.map((t: { revision: string }) => t.revision)).toEqual([events[3]!.revision, checkoutRevision]);
      expect((await cli(['get', 'payments/flags/checkout'])).stdout).toBe('{\n  "enabled": true,\n  "percent": 50\n}\n');
    } finally {
      subscriber.disconnect();
    }
  });

  it('refuses to apply without a reachable Redis, writing nothing to S3', async () => {
    const { bucket, dir, cli } = await setup();
    const missing = await cli(['apply', dir, '--auto-approve'], { STATICS_REDIS_URL: undefined });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/needs Redis for locks/);

    const unreachable = await cli(['apply', dir, '--auto-approve'], { STATICS_REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:1` });
    expectClean(unreachable);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr.trim().split('\n')).toHaveLength(1);
    expect(unreachable.stderr).toMatch(/cannot reach Redis/);
    expect(await listKeys(bucket)).toEqual([]);
  });

  it('reports an unreachable S3 in one line and leaves no lock behind', async () => {
    const { dir, cli, namespace } = await setup();
    const result = await cli(['apply', dir, '--auto-approve'], { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:1' });
    expectClean(result);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/cannot reach the S3 endpoint/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    const reader = new Redis(redisUrl());
    try {
      expect(await reader.keys(`${namespace}*`)).toEqual([]);
    } finally {
      reader.disconnect();
    }
  });

  it('lists the store named by the environment before reading statics.yaml, whose problems still stop the plan', async () => {
    // The environment wins over the file's store: the listing starts before the file is read.
    const { bucket, dir, cli } = await setup({ 'statics.yaml': 'store: file://.elsewhere\n' });
    const planned = await cli(['plan', dir]);
    expectClean(planned);
    expect(planned.code).toBe(0);
    expect(planned.stdout).toContain(`against s3://${bucket}/config`);
    expect(planned.stdout).toMatch(/Plan: 3 to create/);

    await writeFile(path.join(dir, 'statics.yaml'), 'store: file://.elsewhere\nprune: sometimes\n');
    const out = path.join(dir, 'plan.json');
    const broken = await cli(['plan', dir, '--out', out]);
    expect(broken.code).toBe(1);
    expect(broken.stderr.trim().split('\n')).toHaveLength(1);
    expect(broken.stderr).toMatch(/statics\.yaml:2:8: prune: must be boolean/);
    expect(await stat(out).catch(() => null)).toBeNull();
    expect(await listKeys(bucket)).toEqual([]);
  });

  it('names a missing bucket', async () => {
    const { dir, cli } = await setup();
    const result = await cli(['plan', dir], { STATICS_STORE: 's3://no-such-bucket-here/x' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/bucket "no-such-bucket-here" does not exist/);
  });

  it('sets up the bucket with init, reporting what s3rver cannot do', async () => {
    const { bucket, cli } = await setup();
    const result = await cli(['init', '--store', `s3://${bucket}/config`, '--noncurrent-days', '30']);
    expectClean(result);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/website\s+(configured|unchanged)/);
    expect(result.stdout).toMatch(/versioning\s+unsupported: /);
    expect(result.stderr).toMatch(/not fully set up: .*versioning unsupported/);
    const again = await cli(['init', '--store', `s3://${bucket}/config`]);
    expect(again.stdout).toMatch(/website\s+unchanged/);
  });

  it('shows and removes a stuck lock with unlock', async () => {
    const { cli, namespace } = await setup();
    const writer = new Redis(redisUrl());
    try {
      const holder = JSON.stringify({ token: 'abc', host: 'ci-runner-7', pid: 4242, operation: 'apply 123456789abc', since: new Date().toISOString() });
      await writer.set(`${namespace}lock:payments:flags:checkout`, holder, 'PX', 600_000);
      const refused = await cli(['unlock', 'payments/flags/checkout']);
      expect(refused.code).toBe(1);
      expect(refused.stdout).toMatch(/held by apply 123456789abc on ci-runner-7, pid 4242/);
      expect(await writer.exists(`${namespace}lock:payments:flags:checkout`)).toBe(1);
      const removed = await cli(['unlock', 'payments/flags/checkout', '--yes']);
      expect(removed.code).toBe(0);
      expect(await writer.exists(`${namespace}lock:payments:flags:checkout`)).toBe(0);
    } finally {
      writer.disconnect();
    }
  });
});
