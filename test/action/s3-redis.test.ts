/** The action against real services: s3rver (in-process) and a private redis-server. */
import { randomBytes } from 'node:crypto';
import { ListObjectsCommand, S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startRedis, type TestRedis } from '../support/redis.js';
import { startS3, type TestS3 } from '../support/s3.js';
import { startFakeGitHub, type FakeGitHub } from './helpers/fake-github.js';
import { BASE_KEYS, workspaceWith, type Workspace } from './helpers/fixtures.js';
import { pullRequestPayload, pushPayload, runAction, type ActionRun } from './helpers/runner.js';

const PASSWORD = `pw-${randomBytes(6).toString('hex')}`;
let s3: TestS3;
let redis: TestRedis;
let github: FakeGitHub;
let ws: Workspace;
let client: S3Client;

beforeAll(async () => {
  [s3, redis, github, ws] = await Promise.all([startS3(), startRedis({ password: PASSWORD }), startFakeGitHub(), workspaceWith()]);
  client = new S3Client({ endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials, forcePathStyle: true });
});
afterAll(async () => {
  client?.destroy();
  await Promise.all([s3?.stop(), redis?.stop(), github?.stop(), ws?.cleanup()]);
});

function expectClean(run: ActionRun): void {
  // The AWS SDK's Node 20 notice must not reach the log (the action turns it off itself).
  expect(run.stderr).toBe('');
  // The Redis password is masked (the runner replaces what ::add-mask:: names) and never printed.
  const log = run.stdout.split('\n').filter((line) => !line.startsWith('::add-mask::')).join('\n');
  expect(log + run.summary).not.toContain(PASSWORD);
}

describe('the action against S3 and Redis', () => {
  it('plans on the pull request without Redis, then applies the reviewed plan on merge', async () => {
    const bucket = `b-${randomBytes(5).toString('hex')}`;
    await s3.createBucket(bucket);
    const store = `s3://${bucket}/config`;
    const redisUrl = `redis://:${PASSWORD}@127.0.0.1:${redis.port}`;
    const sha = 'abc0000000000000000000000000000000000042';

    // Planning never needs Redis: a Redis that is not there must not matter.
    const plan = await runAction({
      inputs: { command: 'plan', store },
      event: 'pull_request',
      payload: pullRequestPayload(42),
      workspace: ws.root,
      github,
      env: { ...s3.env(), STATICS_REDIS_URL: `redis://127.0.0.1:${await freePort()}` },
    });
    expectClean(plan);
    expect(plan.code).toBe(0);
    expect(plan.outputs).toMatchObject({ 'has-changes': 'true', create: '3', unchanged: '0' });
    const comment = github.commentsOn(42);
    expect(comment).toHaveLength(1);
    expect(comment[0]!.body.split('\n')[0]).toBe(`<!-- statics-plan dir=. store=${store} plan-id=${plan.outputs['plan-id']} -->`);
    expect(comment[0]!.body).toContain(`against \`${store}\``);

    github.pullsOfCommit.set(sha, [{ number: 42, merged_at: '2026-01-02T00:00:00Z', merge_commit_sha: sha, state: 'closed' }]);
    const apply = await runAction({
      inputs: { command: 'apply', store, 'redis-url': redisUrl, 'require-reviewed-plan': 'true' },
      event: 'push',
      payload: pushPayload(sha),
      workspace: ws.root,
      github,
      sha,
      env: s3.env(),
    });
    expectClean(apply);
    expect(apply.stdout).toContain(`::add-mask::${PASSWORD}`);
    expect(apply.code).toBe(0);
    expect(apply.outputs).toMatchObject({ 'plan-id': plan.outputs['plan-id'], applied: '3', failed: '0', stale: '0' });

    const saved = JSON.parse(apply.planFile!) as { entries: Array<{ key: string; revision: string }> };
    const listing = await client.send(new ListObjectsCommand({ Bucket: bucket, Prefix: 'config/' }));
    const keys = (listing.Contents ?? []).map((object) => object.Key!).sort();
    const mirror = new Redis(redisUrl);
    try {
      for (const key of BASE_KEYS) {
        const revision = saved.entries.find((entry) => entry.key === key)!.revision;
        expect(keys).toContain(`config/~revisions/${key}/${revision}`);
        expect(keys).toContain(`config/${key}/current`);
        const current = await s3.websiteGet(bucket, `/config/${key}/current`);
        expect(current.status).toBe(301);
        expect(current.location).toBe(`/config/~revisions/${key}/${revision}`);
        expect(await mirror.get(key.replaceAll('/', ':'))).toBe(revision);
      }
    } finally {
      mirror.disconnect();
    }

    // The next pull request sees the store as applied.
    const after = await runAction({ inputs: { command: 'plan', store }, event: 'pull_request', payload: pullRequestPayload(43), workspace: ws.root, github, env: s3.env() });
    expectClean(after);
    expect(after.outputs).toMatchObject({ 'has-changes': 'false', unchanged: '3' });
  });
});
