/**
 * Propagation: how long from apply finishing the write of a document (its change recorded:
 * mirror key, stream entry, publish) until the new revision is in place in N mirror directories.
 *
 * The mirrors are N separate `statics mirror` processes of the built CLI (run `npm run build`
 * first), each with its own Redis connections, as N hosts would run them; they share this
 * machine's cores, so large N measures the machine as much as statics. Changes are applied one
 * at a time, in-process through the engine (createPlan + applyPlan), and the next starts only
 * when every mirror has the previous one, so a sample is pure latency, not queueing.
 *
 * A sample is the time until the LAST of the N mirrors has the file (what "delivered to every
 * host" means); it is measured between the apply's 'recorded' checkpoint and the timestamp each
 * mirror logs after its rename, both read from this machine's wall clock (1 ms resolution).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RedisCoordinator } from '../src/coord/redis.js';
import { DEFAULT_DESIRED_SETTINGS, sha256Hex, canonicalJson } from '../src/desired/index.js';
import { applyPlan } from '../src/engine/apply.js';
import { createPlan } from '../src/engine/plan.js';
import { S3Store, parseS3Url } from '../src/store/s3.js';

export interface PropagationOptions {
  /** `s3://bucket/prefix` of a bucket that exists. */
  storeUrl: string;
  redisUrl: string;
  /** Redis key namespace; default a fresh one per run, so runs never see each other's events. */
  namespace?: string;
  /** AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION for the S3 server. */
  s3Env: Record<string, string>;
  /** Mirror processes. */
  mirrors: number;
  /** Changes applied (samples). */
  changes: number;
  /** Scratch space: a desired repository and the mirror directories go below it (removed after). */
  workDir: string;
}

export interface PropagationResult {
  p50Ms: number;
  p99Ms: number;
  samples: number;
}

const KEY = 'bench/propagation/doc';
const CHANGE_TIMEOUT_MS = 30_000;

export async function measurePropagation(options: PropagationOptions): Promise<PropagationResult> {
  if (!(options.mirrors >= 1 && options.changes >= 1)) throw new Error('measurePropagation: mirrors and changes must be at least 1');
  const run = randomBytes(4).toString('hex');
  const namespace = options.namespace ?? `bench-${run}:`;
  const root = path.join(path.resolve(options.workDir), `propagation-${run}`);
  const repo = path.join(root, 'repo');
  await mkdir(path.join(repo, 'documents/bench/propagation'), { recursive: true });

  const env = options.s3Env;
  const store = new S3Store({
    ...parseS3Url(options.storeUrl),
    endpoint: env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL,
    region: env.AWS_REGION,
    credentials: env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY } : undefined,
  });
  const coord = await RedisCoordinator.connect({ url: options.redisUrl, namespace, lockTtlMs: 30_000 });
  const mirrors: MirrorProcess[] = [];
  try {
    // The document exists before the mirrors start, so their first sync is the baseline.
    await applyVersion(repo, store, coord, 0);
    const childEnv = {
      ...inheritedEnv(),
      ...env,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      STATICS_STORE: options.storeUrl,
      STATICS_REDIS_URL: options.redisUrl,
      STATICS_REDIS_NAMESPACE: namespace,
    };
    for (let index = 0; index < options.mirrors; index++) {
      mirrors.push(new MirrorProcess(path.join(root, `mirror-${index}`), childEnv));
    }
    await Promise.all(mirrors.map((mirror) => mirror.synced));

    const samples: number[] = [];
    for (let version = 1; version <= options.changes; version++) {
      const { revision, recordedAt } = await applyVersion(repo, store, coord, version);
      const landed = await Promise.all(mirrors.map((mirror) => mirror.landed(revision)));
      samples.push(Math.max(0, Math.max(...landed) - recordedAt));
    }
    samples.sort((a, b) => a - b);
    return { p50Ms: percentile(samples, 50), p99Ms: percentile(samples, 99), samples: samples.length };
  } finally {
    await Promise.all(mirrors.map((mirror) => mirror.stop()));
    await coord.close();
    await store.close();
    await rm(root, { recursive: true, force: true });
  }
}

/** Writes version N of the document into the repository and applies it; when the change was recorded. */
async function applyVersion(repo: string, store: S3Store, coord: RedisCoordinator, version: number): Promise<{ revision: string; recordedAt: number }> {
  const value = { version, enabled: version % 2 === 0, rollout: { percent: version % 100, regions: ['eu-west-1', 'us-east-1'] }, note: 'x'.repeat(512) };
  await writeFile(path.join(repo, 'documents/bench/propagation/doc.json'), JSON.stringify(value));
  const revision = sha256Hex(Buffer.from(canonicalJson(value)));
  const plan = await createPlan(store, {
    dir: repo,
    desired: DEFAULT_DESIRED_SETTINGS,
    prune: false,
    targets: [],
    deleteGuard: 1,
    allowMassDelete: false,
    toolVersion: 'bench',
  });
  let recordedAt = 0;
  const report = await applyPlan(plan, store, coord, {
    parallelism: 1,
    lockTimeoutMs: 30_000,
    checkpoint: (point, key) => {
      if (point === 'recorded' && key === KEY) recordedAt = Date.now();
    },
  });
  const result = report.results.find((entry) => entry.key === KEY);
  if (!result || result.outcome !== 'applied' || !recordedAt) {
    throw new Error(`bench: applying version ${version} of ${KEY} did not apply: ${result?.error ?? result?.outcome ?? 'not in the plan'}`);
  }
  if (result.revision !== revision) throw new Error(`bench: expected revision ${revision}, applied ${result.revision}`);
  return { revision, recordedAt };
}

/** One `statics mirror` process; its log lines (`<ISO time> updated KEY REV12 via SOURCE`) say when a revision landed. */
class MirrorProcess {
  readonly synced: Promise<void>;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly arrivals = new Map<string, number>();
  private readonly waiting = new Map<string, (at: number) => void>();
  private stderr = '';
  private exited = false;

  constructor(dir: string, env: Record<string, string>) {
    this.child = spawn(process.execPath, [cliPath(), 'mirror', dir, '--prefix', 'bench/propagation/'], { env });
    this.child.stdout.resume();
    let pending = '';
    let markSynced!: () => void;
    let failSync!: (error: Error) => void;
    this.synced = new Promise<void>((resolve, reject) => {
      markSynced = resolve;
      failSync = reject;
    });
    this.synced.catch(() => {});
    this.child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-4000);
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (/ is in sync with /.test(line)) markSynced();
        const match = /^(\S+) updated (\S+) ([0-9a-f]{12}) via /.exec(line);
        if (!match || match[2] !== KEY) continue;
        const at = Date.parse(match[1]!);
        const short = match[3]!;
        this.arrivals.set(short, at);
        this.waiting.get(short)?.(at);
      }
    });
    this.child.on('exit', (code) => {
      this.exited = true;
      failSync(new Error(`bench: a mirror exited (${code}) before it was in sync: ${this.stderr.trim()}`));
      for (const resolve of this.waiting.values()) resolve(Number.NaN);
    });
  }

  /** When this mirror logged the revision in place (its wall clock, ms). */
  landed(revision: string): Promise<number> {
    const short = revision.slice(0, 12);
    const known = this.arrivals.get(short);
    if (known !== undefined) return Promise.resolve(known);
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`bench: a mirror did not get ${short} within ${CHANGE_TIMEOUT_MS} ms: ${this.stderr.trim()}`)), CHANGE_TIMEOUT_MS);
      this.waiting.set(short, (at) => {
        clearTimeout(timer);
        this.waiting.delete(short);
        if (Number.isNaN(at)) reject(new Error(`bench: a mirror exited: ${this.stderr.trim()}`));
        else resolve(at);
      });
    });
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Nearest-rank percentile of sorted samples. */
function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** bin/statics.js of this checkout, found from here whether run from bench/ or build/bench/. */
function cliPath(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 4; depth++) {
    const manifest = path.join(dir, 'package.json');
    // build/ holds a copy of package.json too (tsc copies what src imports), but no bin/.
    const cli = path.join(dir, 'bin/statics.js');
    if (existsSync(manifest) && existsSync(cli) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'statics') {
      return cli;
    }
    dir = path.dirname(dir);
  }
  throw new Error('bench: cannot find the statics checkout (bin/statics.js)');
}

/** PATH and HOME only: the mirrors must not pick up a developer's STATICS_* settings. */
function inheritedEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}
