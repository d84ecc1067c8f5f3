/** `statics watch` as a subprocess: JSON lines per change from real applies, clean exit on signals. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI, PROJECT_ROOT, repositoryOf, runCli } from '../support/cli.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { startS3, type TestS3 } from '../support/s3.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats(ajv);
const validateEvent = ajv.compile(JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'schemas/event.schema.json'), 'utf8')));

const PASSWORD = 'w@tch:' + randomBytes(4).toString('hex');
let s3: TestS3;
let redis: TestRedis;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  [s3, redis] = await Promise.all([startS3(), startRedis({ password: PASSWORD })]);
});
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});
afterAll(async () => {
  await Promise.all([s3?.stop(), redis?.stop()]);
});

interface Running {
  child: ChildProcessWithoutNullStreams;
  stdoutLines(): string[];
  stderr(): string;
  waitFor(what: string, probe: () => boolean, ms?: number): Promise<void>;
  stop(signal: NodeJS.Signals): Promise<number | null>;
}

function start(args: string[], env: Record<string, string>): Running {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: PROJECT_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NO_COLOR: '1', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const running: Running = {
    child,
    stdoutLines: () => stdout.split('\n').filter(Boolean),
    stderr: () => stderr,
    async waitFor(what, probe, ms = 15_000) {
      const deadline = Date.now() + ms;
      while (!probe()) {
        if (child.exitCode !== null) throw new Error(`watch exited (${child.exitCode}) before ${what}: ${stderr}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stderr: ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    async stop(signal) {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
  cleanups.push(async () => {
    await running.stop('SIGKILL');
  });
  return running;
}

async function setup() {
  const bucket = `w-${randomBytes(5).toString('hex')}`;
  await s3.createBucket(bucket);
  const repo = await repositoryOf({
    'documents/payments/flags/checkout.yaml': 'enabled: true\n',
    'documents/payments/limits/usd.json': '{"max": 100}\n',
    'documents/edge/robots/default.txt': 'User-agent: *\n',
  });
  cleanups.push(repo.cleanup);
  const env = {
    ...s3.env(),
    STATICS_STORE: `s3://${bucket}/cfg`,
    STATICS_REDIS_URL: `redis://:${encodeURIComponent(PASSWORD)}@127.0.0.1:${redis.port}`,
    STATICS_REDIS_NAMESPACE: `${bucket}:`,
  };
  const apply = async (): Promise<void> => {
    const result = await runCli(['apply', repo.dir, '--auto-approve'], { env });
    expect(result.code, result.stderr).toBe(0);
  };
  return { dir: repo.dir, env, apply };
}

function parseLines(lines: string[]): Array<Record<string, unknown>> {
  return lines.map((line) => {
    const event = JSON.parse(line) as Record<string, unknown>;
    expect(validateEvent(event), JSON.stringify(validateEvent.errors)).toBe(true);
    return event;
  });
}

describe('statics watch', () => {
  it('prints one valid JSON event per applied change under the prefix, and exits 0 on SIGTERM', async () => {
    const { dir, env, apply } = await setup();
    const watch = start(['watch', 'payments/'], env);
    await watch.waitFor('the watch to start', () => /watching payments\//.test(watch.stderr()));

    await apply();
    await watch.waitFor('two events', () => watch.stdoutLines().length >= 2);
    await writeFile(path.join(dir, 'documents/payments/flags/checkout.yaml'), 'enabled: false\n');
    await apply();
    await watch.waitFor('the third event', () => watch.stdoutLines().length >= 3);
    await new Promise((resolve) => setTimeout(resolve, 200));

    const events = parseLines(watch.stdoutLines());
    expect(events).toHaveLength(3);
    expect(events.map((event) => event.key).sort()).toEqual(['payments/flags/checkout', 'payments/flags/checkout', 'payments/limits/usd']);
    const [first, , last] = events;
    expect(first).toMatchObject({ version: 1, action: 'update', previous: null });
    expect(last).toMatchObject({ key: 'payments/flags/checkout', action: 'update' });
    const created = events.find((event) => event.key === 'payments/flags/checkout' && event.previous === null)!;
    expect(last!.previous).toBe(created.revision);
    const ids = events.map((event) => event.stream as string);
    expect(ids.every((id) => /^\d+-\d+$/.test(id))).toBe(true);

    expect(await watch.stop('SIGTERM')).toBe(0);
    expect(watch.stderr()).not.toContain(PASSWORD);
    expect(watch.stderr()).not.toMatch(/Warning|Error|at .*\.js:/);
  });

  it('replays the retained stream with --from-start, and exits 0 on SIGINT', async () => {
    const { env, apply } = await setup();
    await apply();
    const watch = start(['watch', '--from-start'], env);
    await watch.waitFor('three replayed events', () => watch.stdoutLines().length >= 3);
    const events = parseLines(watch.stdoutLines());
    expect(events.map((event) => event.key).sort()).toEqual(['edge/robots/default', 'payments/flags/checkout', 'payments/limits/usd']);
    expect(await watch.stop('SIGINT')).toBe(0);
  });

  it('refuses a malformed prefix in one line', async () => {
    const result = await runCli(['watch', 'a/b/c/d'], { env: { STATICS_STORE: 'file:///tmp/statics-none' } });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/invalid prefix "a\/b\/c\/d"/);
  });
});
