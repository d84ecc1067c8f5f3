/**
 * `statics mirror` as a subprocess when the change feed is not there: a stalled Redis (polling,
 * then the stream again), and the embedded store (polling only); atomic replacement; one mirror
 * per directory. (A separate file from mirror.test.ts so the two run in parallel.)
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { S3Store } from '../../src/store/s3.js';
import { LocalStore } from '../../src/store/local.js';
import type { RevisionStore } from '../../src/store/types.js';
import { CLI, PROJECT_ROOT, emptyTempDir, repositoryOf, runCli } from '../support/cli.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { startS3, type TestS3 } from '../support/s3.js';

let s3: TestS3;
let redis: TestRedis;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  [s3, redis] = await Promise.all([startS3(), startRedis()]);
});
afterEach(async () => {
  redis.resume();
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});
afterAll(async () => {
  await Promise.all([s3?.stop(), redis?.stop()]);
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

interface Mirror {
  child: ChildProcessWithoutNullStreams;
  log(): string;
  waitFor(what: string, pattern: RegExp, ms?: number): Promise<void>;
  stop(signal: NodeJS.Signals): Promise<number | null>;
}

function startMirror(args: string[], env: Record<string, string>): Mirror {
  const child = spawn(process.execPath, [CLI, 'mirror', ...args], {
    cwd: PROJECT_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NO_COLOR: '1', ...env },
  });
  let stderr = '';
  child.stdout.resume();
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const mirror: Mirror = {
    child,
    log: () => stderr,
    async waitFor(what, pattern, ms = 15_000) {
      const deadline = Date.now() + ms;
      while (!pattern.test(stderr)) {
        if (child.exitCode !== null) throw new Error(`mirror exited (${child.exitCode}) before ${what}: ${stderr}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; log:\n${stderr}`);
        await sleep(25);
      }
    },
    async stop(signal) {
      if (child.exitCode === null) {
        child.kill('SIGCONT');
        child.kill(signal);
      }
      return exited;
    },
  };
  cleanups.push(async () => {
    await mirror.stop('SIGKILL');
  });
  return mirror;
}

/** What the store says every document under the prefix is: key → bytes. */
async function storeContents(store: RevisionStore, prefix = ''): Promise<Map<string, string>> {
  const contents = new Map<string, string>();
  const keys = [...(await store.listCurrent()).keys()].filter((key) => key.startsWith(prefix)).sort();
  for (const [key, record] of await store.readCurrent(keys)) {
    if (!record) continue;
    contents.set(key, (await store.getRevision(key, record.revision))!.bytes.toString('base64'));
  }
  return contents;
}

/** The documents in a mirror directory (three levels deep, no dot files): key → bytes. */
async function dirContents(dir: string): Promise<Map<string, string>> {
  const contents = new Map<string, string>();
  const list = async (folder: string): Promise<string[]> => (await readdir(folder, { withFileTypes: true }).catch(() => [])).filter((e) => !e.name.startsWith('.')).map((e) => e.name);
  for (const domain of await list(dir)) {
    for (const type of await list(path.join(dir, domain))) {
      for (const id of await list(path.join(dir, domain, type))) {
        contents.set(`${domain}/${type}/${id}`, (await readFile(path.join(dir, domain, type, id))).toString('base64'));
      }
    }
  }
  return new Map([...contents].sort(([a], [b]) => (a < b ? -1 : 1)));
}

async function expectMirrored(dir: string, store: RevisionStore, prefix = '', ms = 15_000): Promise<Map<string, string>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const [want, have] = await Promise.all([storeContents(store, prefix), dirContents(dir)]);
    if (JSON.stringify([...want]) === JSON.stringify([...have])) return have;
    if (Date.now() > deadline) {
      expect(Object.fromEntries(have)).toEqual(Object.fromEntries(want));
    }
    await sleep(50);
  }
}

async function setup() {
  const bucket = `m-${randomBytes(5).toString('hex')}`;
  await s3.createBucket(bucket);
  const repo = await repositoryOf({
    'schemas/flags.schema.json': JSON.stringify({ type: 'object', required: ['enabled'] }),
    'documents/payments/flags/checkout.yaml': 'enabled: true\n',
    'documents/payments/flags/refunds.yaml': 'enabled: false\n',
    'documents/payments/limits/usd.json': '{"max": 100}\n',
    'documents/edge/robots/default.txt': 'User-agent: *\n',
  });
  const target = await emptyTempDir();
  const store = new S3Store({ bucket, prefix: 'cfg', endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials });
  cleanups.push(repo.cleanup, target.cleanup, () => store.close());
  const env = {
    ...s3.env(),
    STATICS_STORE: `s3://${bucket}/cfg`,
    STATICS_REDIS_URL: redis.url,
    STATICS_REDIS_NAMESPACE: `${bucket}:`,
  };
  const edit = (file: string, content: string): Promise<void> => writeFile(path.join(repo.dir, 'documents', file), content);
  const apply = async (...extra: string[]): Promise<void> => {
    const result = await runCli(['apply', repo.dir, '--auto-approve', ...extra], { env });
    expect(result.code, result.stdout + result.stderr).toBe(0);
  };
  return { repo: repo.dir, dir: path.join(target.dir, 'mirror'), store, env, edit, apply };
}

describe('statics mirror without the change feed', () => {
  it('polls the store while Redis does not answer, and takes up the stream when it is back', async () => {
    const { dir, store, env, edit, apply } = await setup();
    await apply();
    const mirror = startMirror([dir, '--poll-interval', '200ms'], env);
    await mirror.waitFor('the first sync', /is in sync/);
    await expectMirrored(dir, store);

    redis.pause();
    // apply needs Redis for its locks: write the way a writer would, straight to the store.
    const key = 'edge/robots/default';
    const bytes = Buffer.from('User-agent: *\nDisallow: /private\n');
    const revision = sha256(bytes);
    const current = (await store.readCurrent([key])).get(key)!;
    await store.putRevision(key, revision, bytes, { mediaType: 'text/plain', size: bytes.length }, {});
    const transition = { revision, previous: current.revision, at: new Date().toISOString(), action: 'apply' as const };
    await store.setCurrent(key, transition, current);
    await mirror.waitFor('the polled change', /updated edge\/robots\/default [0-9a-f]{12} via poll/);
    await expectMirrored(dir, store);

    redis.resume();
    await edit('payments/flags/checkout.yaml', 'enabled: false\n');
    await apply();
    await mirror.waitFor('the streamed change', /updated payments\/flags\/checkout [0-9a-f]{12} via stream/);
    await expectMirrored(dir, store);
    expect(mirror.log(), mirror.log()).toMatch(/lost the change feed/);
    expect(await mirror.stop('SIGTERM'), mirror.log()).toBe(0);
  });

  it('mirrors the embedded store once or by polling, never showing a reader half a file', async () => {
    const blob = (fill: number): Buffer => Buffer.alloc(1024 * 1024, fill);
    const repo = await repositoryOf({
      'documents/web/assets/blob.bin': blob(1),
      'documents/web/flags/beta.json': '{"on": true}\n',
    });
    const target = await emptyTempDir();
    cleanups.push(repo.cleanup, target.cleanup);
    const dir = path.join(target.dir, 'etc');
    const store = new LocalStore(path.join(repo.dir, '.statics'));
    const env = { STATICS_STORE: 'file://.statics' };
    const cli = (args: string[]) => runCli(args, { cwd: repo.dir, env });
    expect((await cli(['apply', '--auto-approve'])).code).toBe(0);

    const once = await cli(['mirror', dir, '--once']);
    expect(once.code, once.stderr).toBe(0);
    expect(once.stderr).toMatch(/up to date: 2 documents .*\(2 written, 0 removed\)/);
    await expectMirrored(dir, store);

    const mirror = startMirror([dir, '--poll-interval', '100ms', '--dir', repo.dir], {});
    await mirror.waitFor('the first sync', /is in sync/);
    // One mirror per directory.
    const second = await cli(['mirror', dir, '--once']);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/already being mirrored by process \d+/);

    // Readers of the file see one whole revision or the next, never a mix or a truncation.
    const revisions = new Set([1, 2, 3].map((fill) => sha256(blob(fill))));
    let reads = 0;
    let reading = true;
    const reader = (async () => {
      while (reading) {
        const bytes = await readFile(path.join(dir, 'web/assets/blob'));
        expect(revisions.has(sha256(bytes)), `read ${bytes.length} bytes`).toBe(true);
        reads++;
      }
    })();
    for (const fill of [2, 3]) {
      await writeFile(path.join(repo.dir, 'documents/web/assets/blob.bin'), blob(fill));
      expect((await cli(['apply', '--auto-approve'])).code).toBe(0);
      await mirror.waitFor(`revision ${fill}`, new RegExp(`updated web/assets/blob ${sha256(blob(fill)).slice(0, 12)} via poll`));
    }
    reading = false;
    await reader;
    expect(reads).toBeGreaterThan(10);
    await expectMirrored(dir, store);
    expect(await mirror.stop('SIGTERM'), mirror.log()).toBe(0);
    // No temp files left behind.
    expect((await readdir(path.join(dir, 'web/assets'))).filter((name) => name.startsWith('.'))).toEqual([]);
  });
});
