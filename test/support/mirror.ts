/** The harness of the `statics mirror` end-to-end tests: services, a mirror subprocess, comparisons. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { S3Store } from '../../src/store/s3.js';
import type { RevisionStore } from '../../src/store/types.js';
import { CLI, PROJECT_ROOT, emptyTempDir, repositoryOf, runCli } from './cli.js';
import { startRedis, type TestRedis } from './redis.js';
import { startS3, type TestS3 } from './s3.js';

let s3: TestS3;
let redis: TestRedis;
const cleanups: Array<() => Promise<void>> = [];

/** Runs `cleanup` after the current test. */
export function onCleanup(...cleanup: Array<() => Promise<void>>): void {
  cleanups.push(...cleanup);
}

/** Starts s3rver and redis-server for the calling test file and cleans up after each test. */
export function useMirrorServices(): { s3(): TestS3; redis(): TestRedis } {
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
  return { s3: () => s3, redis: () => redis };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
export const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

export interface Mirror {
  child: ChildProcessWithoutNullStreams;
  log(): string;
  waitFor(what: string, pattern: RegExp, ms?: number): Promise<void>;
  stop(signal: NodeJS.Signals): Promise<number | null>;
}

export function startMirror(args: string[], env: Record<string, string>): Mirror {
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
export async function storeContents(store: RevisionStore, prefix = ''): Promise<Map<string, string>> {
  const contents = new Map<string, string>();
  const keys = [...(await store.listCurrent()).keys()].filter((key) => key.startsWith(prefix)).sort();
  for (const [key, record] of await store.readCurrent(keys)) {
    if (!record) continue;
    contents.set(key, (await store.getRevision(key, record.revision))!.bytes.toString('base64'));
  }
  return contents;
}

/** The documents in a mirror directory (three levels deep, no dot files): key → bytes. */
export async function dirContents(dir: string): Promise<Map<string, string>> {
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

export async function expectMirrored(dir: string, store: RevisionStore, prefix = '', ms = 15_000): Promise<Map<string, string>> {
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

export async function setup() {
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

