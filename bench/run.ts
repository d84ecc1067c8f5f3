/**
 * `npm run bench [-- --docs N --runs R]`: statics at scale, side by side with rclone, against a
 * private s3rver and redis-server. Prints a table and writes bench/results/latest.json.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { documentAt, DOMAINS, generateRepository, writeDocuments, GENERATOR_VERSION } from './generate.js';
import { cleanEnv, expectCode, measure, median, PROJECT_ROOT, statics, totalRequests, type Runner, type Sample } from './measure.js';
import { findRclone, rcloneEnv, syncArgs } from './rclone.js';
import { findRedisServer, startRedis, startS3, type RequestCounts } from './services.js';

const STORE_BUCKET = 'statics';
const STORE_URL = `s3://${STORE_BUCKET}/config`;
const PEER_BUCKET = 'peer';
const MEMORY_TARGET_BYTES = 512 * 1024 * 1024;
const PROPAGATION_MIRRORS = 3;
const PROPAGATION_CHANGES = 100;

interface Options {
  docs: number;
  layout: 'split' | 'nested';
  runs: number;
  applyDocs: number;
  changedShare: number;
  peer: boolean;
  keep: boolean;
  out: string;
  only: Set<string>;
}

const SCENARIOS = ['validate', 'plan', 'plan-changed', 'apply', 'propagation'] as const;

interface Figures {
  runs: number[];
  medianMs: number;
  docsPerSecond: number;
  /** Requests of the median run, by kind, and their total. */
  s3: RequestCounts & { total: number };
  redis: { total: number; byCommand: Record<string, number> };
  peakRssBytes?: number;
  /** CPU time of the median run: the measured process (statics only), and s3rver serving it. */
  cpuMs?: number;
  serverCpuMs: number;
}

interface Scenario {
  id: string;
  title: string;
  docs: number;
  statics: Figures & { coldMs?: number; coldS3?: RequestCounts; coldPeakRssBytes?: number; warmMs?: number };
  peer?: Figures & { command: string };
  /** statics' median time over the peer's. */
  ratio?: number;
  target?: { description: string; met: boolean };
  notes: string[];
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      docs: { type: 'string', default: '10000' },
      runs: { type: 'string' },
      'apply-docs': { type: 'string', default: '1000' },
      changed: { type: 'string', default: '0.01' },
      layout: { type: 'string', default: 'split' },
      'no-peer': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      out: { type: 'string', default: path.join(PROJECT_ROOT, 'bench/results/latest.json') },
      only: { type: 'string', default: SCENARIOS.join(',') },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`Usage: npm run bench -- [--docs N] [--runs R] [--apply-docs N] [--changed SHARE] [--no-peer] [--keep]

  --docs N         documents in the generated repository (default 10000; 100000 for the large run)
  --runs R         timed runs per measurement, the median is reported (default 3, 1 from 50000 docs)
  --apply-docs N   documents changed for the apply measurement (default 1000)
  --changed SHARE  share of documents changed for the second plan (default 0.01)
  --layout L       where the store keeps revisions: split (under ~revisions/, what a new store
                   gets: a listing returns only pointers) or nested (beside current, set up
                   with statics init --layout nested: a listing returns every revision too)
  --only LIST      measure only these, comma-separated: ${SCENARIOS.join(',')}
  --no-peer        skip rclone
  --keep           keep bench/work (the repository, s3rver's data) afterwards
`);
    process.exit(0);
  }
  const docs = positiveInteger(values.docs!, '--docs');
  const only = new Set(values.only!.split(',').map((name) => name.trim()).filter(Boolean));
  for (const name of only) if (!(SCENARIOS as readonly string[]).includes(name)) throw new Error(`--only: unknown measurement "${name}" (known: ${SCENARIOS.join(', ')})`);
  if (values.layout !== 'split' && values.layout !== 'nested') throw new Error(`--layout must be split or nested, not "${values.layout}"`);
  return {
    docs,
    layout: values.layout,
    runs: values.runs ? positiveInteger(values.runs, '--runs') : docs >= 50_000 ? 1 : 3,
    applyDocs: Math.min(docs, positiveInteger(values['apply-docs']!, '--apply-docs')),
    changedShare: Number(values.changed),
    peer: !values['no-peer'],
    keep: values.keep!,
    out: path.resolve(values.out!),
    only,
  };
}

function positiveInteger(text: string, name: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive whole number, not "${text}"`);
  return value;
}

/** Indexes spread evenly over the repository, so every domain and type has its share. */
function spread(count: number, total: number, offset = 0): number[] {
  const step = total / count;
  return Array.from({ length: count }, (_, i) => (Math.floor(i * step) + offset) % total);
}

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function figures(samples: Sample[], docs: number): Figures {
  const runs = samples.map((sample) => sample.wallMs);
  const medianMs = median(runs);
  // The counts of the run closest to the median: counts hardly vary, times do.
  const typical = samples.reduce((best, sample) => (Math.abs(sample.wallMs - medianMs) < Math.abs(best.wallMs - medianMs) ? sample : best));
  const rss = samples.map((sample) => sample.peakRssBytes).filter((value): value is number => value !== undefined);
  return {
    runs: runs.map((ms) => Math.round(ms)),
    medianMs: Math.round(medianMs),
    docsPerSecond: Math.round((docs / medianMs) * 1000),
    s3: { ...typical.s3, total: totalRequests(typical.s3) },
    redis: typical.redis,
    ...(rss.length ? { peakRssBytes: Math.max(...rss) } : {}),
    ...(typical.cpuMs !== undefined ? { cpuMs: typical.cpuMs } : {}),
    serverCpuMs: typical.serverCpuMs,
  };
}

async function main(): Promise<void> {
  const options = parseOptions();
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const rclone = options.peer ? await findRclone() : undefined;
  if (rclone && 'missing' in rclone) throw new Error(rclone.missing);
  const redisBinary = findRedisServer();
  if (!redisBinary) throw new Error('redis-server not found; install it (Debian: apt-get install -y redis-server)');

  const workDir = path.join(PROJECT_ROOT, 'bench/work', `run-${options.docs}`);
  const repo = path.join(workDir, 'repo');
  const cacheDir = path.join(workDir, 'cache');
  await rm(workDir, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true });

  log(`generating ${options.docs} documents`);
  const generated = await generateRepository({ dir: repo, docs: options.docs });
  const s3 = await startS3(path.join(workDir, 's3rver'));
  const redis = await startRedis(redisBinary, path.join(workDir, 'redis'));
  const runner: Runner = { s3, redis, workDir };
  const redisClient = new Redis(redis.url, { lazyConnect: true });
  const scenarios: Scenario[] = [];
  let seed: Record<string, unknown> = {};
  let propagation: Record<string, unknown> = { measured: false, reason: 'not selected (--only)' };
  try {
    await s3.createBucket(STORE_BUCKET);
    await s3.createBucket(PEER_BUCKET);
    await redisClient.connect();
    const baseEnv = cleanEnv({ ...s3.env(), STATICS_STORE: STORE_URL, STATICS_CACHE_DIR: cacheDir, NO_COLOR: '1' });
    const applyEnv = { ...baseEnv, STATICS_REDIS_URL: redis.url };
    const peerEnv = rcloneEnv(s3.endpoint);
    const clearCache = () => rm(cacheDir, { recursive: true, force: true });
    if (options.layout === 'nested') {
      // s3rver has no versioning, so init reports that and exits 1; the layout is what matters here.
      const init = expectCode(await statics(runner, ['init', '--store', STORE_URL, '--layout', 'nested'], baseEnv), [0, 1], 'statics init');
      if (!/layout\s+configured/.test(init.stdout)) throw new Error(`statics init did not set the nested layout:\n${init.stdout}${init.stderr}`);
    }

    // The starting point: a store already holding every document, as statics itself leaves it.
    log(`seeding the store: statics apply of ${options.docs} documents (slow: every document is a create)`);
    // A plan holds every change with its content: large repositories are seeded a domain at a time.
    const seedTargets = options.docs > 20_000 ? DOMAINS.map((domain) => ['--target', domain]) : [[]];
    let seedMs = 0;
    const seedS3: RequestCounts = {};
    for (const target of seedTargets) {
      const seeded = expectCode(await statics(runner, ['apply', repo, '--auto-approve', '--format', 'json', ...target], applyEnv), 0, 'the seeding apply');
      seedMs += seeded.wallMs;
      for (const [kind, count] of Object.entries(seeded.s3)) seedS3[kind] = (seedS3[kind] ?? 0) + count;
    }
    seed = { staticsApplyMs: Math.round(seedMs), s3: seedS3, applies: seedTargets.length };
    if (rclone) {
      log('seeding the peer bucket: rclone sync of the same files');
      const peerSeed = expectCode(await measure(runner, 'rclone', syncArgs(repo, PEER_BUCKET, { extra: ['--transfers', '8'] }), peerEnv), 0, 'the seeding rclone sync');
      seed = { ...seed, rcloneSyncMs: Math.round(peerSeed.wallMs), rcloneS3: peerSeed.s3 };
    }

    // 1. validate: parsing and schema checks of the whole repository, caches emptied first.
    if (options.only.has('validate')) {
      log('validate');
      const validateSamples: Sample[] = [];
      for (let run = 0; run < options.runs; run++) {
        await clearCache();
        const sample = expectCode(await statics(runner, ['validate', repo], baseEnv, { rss: true }), 0, 'validate');
        if (!sample.stdout.includes(`${options.docs} documents valid`)) throw new Error(`validate did not report ${options.docs} documents: ${sample.stdout}`);
        validateSamples.push(sample);
      }
      const validateWarm = expectCode(await statics(runner, ['validate', repo], baseEnv), 0, 'validate');
      scenarios.push({
        id: 'validate',
        title: `validate, ${options.docs} documents`,
        docs: options.docs,
        statics: { ...figures(validateSamples, options.docs), warmMs: Math.round(validateWarm.wallMs) },
        notes: ['parse cache emptied before every timed run (warmMs: one more run with it filled)'],
      });

    
    }

    // 2. plan with nothing changed. The first run starts with an empty parse cache.
    if (options.only.has('plan')) {
      log('plan, nothing changed');
      await clearCache();
      const planCold = expectCode(await statics(runner, ['plan', repo, '--detailed-exitcode'], baseEnv, { rss: true }), 0, 'plan (nothing changed)');
      const planSamples: Sample[] = [];
      for (let run = 0; run < options.runs; run++) {
        planSamples.push(expectCode(await statics(runner, ['plan', repo, '--detailed-exitcode'], baseEnv, { rss: true }), 0, 'plan (nothing changed)'));
      }
      const unchanged: Scenario = {
        id: 'plan-unchanged',
        title: `plan, nothing changed (${options.docs})`,
        docs: options.docs,
        statics: { ...figures(planSamples, options.docs), coldMs: Math.round(planCold.wallMs), coldS3: planCold.s3, coldPeakRssBytes: planCold.peakRssBytes },
        notes: ['median of runs after a first one that filled the parse cache (coldMs)'],
      };
      if (rclone) {
        const peerSamples: Sample[] = [];
        for (let run = 0; run < options.runs; run++) {
          const sample = expectCode(await measure(runner, 'rclone', syncArgs(repo, PEER_BUCKET, { dryRun: true }), peerEnv), 0, 'rclone sync --dry-run');
          if (/Skipped (copy|delete)/.test(sample.stderr)) throw new Error(`rclone sees changes in an unchanged repository:\n${sample.stderr.slice(0, 2000)}`);
          peerSamples.push(sample);
        }
        unchanged.peer = { command: 'rclone sync --fast-list --checksum --dry-run', ...figures(peerSamples, options.docs) };
      }
      scenarios.push(unchanged);

    
    }

    // 3. plan with a share of the documents changed: fresh content every run, as a new commit has.
    if (options.only.has('plan-changed')) {
      const changedCount = Math.max(1, Math.round(options.docs * options.changedShare));
      log(`plan, ${changedCount} documents changed`);
      const changedIndexes = spread(changedCount, options.docs, 3);
      const changedSamples: Sample[] = [];
      const changedPeerSamples: Sample[] = [];
      for (let run = 0; run < options.runs; run++) {
        await writeDocuments(repo, changedIndexes, 100 + run);
        const sample = expectCode(await statics(runner, ['plan', repo, '--detailed-exitcode'], baseEnv, { rss: true }), 2, 'plan (changes)');
        if (!sample.stdout.includes(`0 to create, ${changedCount} to update, 0 to delete`)) throw new Error(`plan did not find ${changedCount} updates:\n${sample.stdout.slice(-500)}`);
        changedSamples.push(sample);
        if (rclone) {
          const peer = expectCode(await measure(runner, 'rclone', syncArgs(repo, PEER_BUCKET, { dryRun: true }), peerEnv), 0, 'rclone sync --dry-run');
          const seen = peer.stderr.match(/Skipped copy/g)?.length ?? 0;
          if (seen !== changedCount) throw new Error(`rclone saw ${seen} changed files, expected ${changedCount}`);
          changedPeerSamples.push(peer);
        }
      }
      await writeDocuments(repo, changedIndexes, 0);
      const changedScenario: Scenario = {
        id: 'plan-changed',
        title: `plan, ${changedCount} of ${options.docs} changed`,
        docs: options.docs,
        statics: figures(changedSamples, options.docs),
        notes: ['new content in every run, so changed documents are parsed each time'],
      };
      if (rclone) changedScenario.peer = { command: 'rclone sync --fast-list --checksum --dry-run', ...figures(changedPeerSamples, options.docs) };
      scenarios.push(changedScenario);

    
    }

    // 4. apply of changed documents, two ways, each against its rclone counterpart:
    //    (a) `apply DIR`: plan (printed) and apply in one run, as `rclone sync` of the whole tree;
    //    (b) `apply PLANFILE`: the reviewed plan alone, as `rclone sync --files-from` those files.
    if (options.only.has('apply')) {
      log(`apply, ${options.applyDocs} documents changed`);
      const applyIndexes = spread(options.applyDocs, options.docs, 7);
      const applyKeys = applyIndexes.map((index) => documentAt(index).key);
      const changedList = path.join(workDir, 'changed-files.txt');
      await writeFile(changedList, applyIndexes.map((index) => documentAt(index).path).join('\n') + '\n');
      const planFile = path.join(workDir, 'plan.json');
      const samples = { dir: [] as Sample[], dirPeer: [] as Sample[], file: [] as Sample[], filePeer: [] as Sample[] };
      const checkPeer = (peer: Sample) => {
        if ((peer.s3['put'] ?? 0) < options.applyDocs) throw new Error(`rclone uploaded ${peer.s3['put'] ?? 0} files, expected ${options.applyDocs}`);
        return peer;
      };
      for (let run = 0; run < options.runs; run++) {
        await writeDocuments(repo, applyIndexes, 1000 + 2 * run);
        let eventsBefore = await redisClient.xlen('statics:events');
        const fromDir = expectCode(await statics(runner, ['apply', repo, '--auto-approve'], applyEnv, { rss: true }), 0, 'apply DIR');
        await verifyApply(fromDir, { runner, repo, env: baseEnv, redis: redisClient, keys: applyKeys, eventsBefore });
        samples.dir.push(fromDir);
        if (rclone) samples.dirPeer.push(checkPeer(expectCode(await measure(runner, 'rclone', syncArgs(repo, PEER_BUCKET), peerEnv), 0, 'rclone sync')));

        await writeDocuments(repo, applyIndexes, 1001 + 2 * run);
        expectCode(await statics(runner, ['plan', repo, '--out', planFile, '--detailed-exitcode'], baseEnv), 2, 'plan --out');
        eventsBefore = await redisClient.xlen('statics:events');
        const fromFile = expectCode(await statics(runner, ['apply', planFile], applyEnv, { rss: true }), 0, 'apply PLANFILE');
        await verifyApply(fromFile, { runner, repo, env: baseEnv, redis: redisClient, keys: applyKeys, eventsBefore });
        samples.file.push(fromFile);
        if (rclone) {
          const args = syncArgs(repo, PEER_BUCKET, { extra: ['--files-from', changedList] });
          samples.filePeer.push(checkPeer(expectCode(await measure(runner, 'rclone', args, peerEnv), 0, 'rclone sync --files-from')));
        }
      }
      const verified = 'verified after each run: every document applied, no lock left, mirror = current, one event each';
      const applyDir: Scenario = {
        id: 'apply-dir',
        title: `apply DIR, ${options.applyDocs} of ${options.docs} changed`,
        docs: options.applyDocs,
        statics: figures(samples.dir, options.applyDocs),
        notes: ['`statics apply DIR --auto-approve`: plans, prints the plan with its diffs, then writes', verified],
      };
      const applyFile: Scenario = {
        id: 'apply',
        title: `apply PLANFILE, ${options.applyDocs} changed`,
        docs: options.applyDocs,
        statics: figures(samples.file, options.applyDocs),
        notes: ['`statics apply PLANFILE`: the saved, reviewed plan of the 1,000 changes', verified],
      };
      if (rclone) {
        applyDir.peer = { command: 'rclone sync --fast-list --checksum', ...figures(samples.dirPeer, options.applyDocs) };
        applyFile.peer = { command: 'rclone sync --fast-list --checksum --files-from CHANGED', ...figures(samples.filePeer, options.applyDocs) };
      }
      scenarios.push(applyDir, applyFile);

    
    }

    if (options.only.has('propagation')) propagation = await measurePropagationIfPresent({ s3Env: s3.env(), redisUrl: redis.url, workDir: path.join(workDir, 'propagation') });

    for (const scenario of scenarios) {
      if (scenario.peer) scenario.ratio = round2(scenario.statics.medianMs / scenario.peer.medianMs);
    }
    setTargets(scenarios, options);
  } finally {
    redisClient.disconnect();
    await Promise.allSettled([s3.stop(), redis.stop()]);
    if (!options.keep) await rm(workDir, { recursive: true, force: true });
  }

  const result = {
    format: 'statics-bench',
    version: 1,
    finishedAt: new Date().toISOString(),
    machine: machineInfo(),
    tools: { node: process.version, rclone: rclone && !('missing' in rclone) ? rclone.version : null, redis: redisBinary },
    options: { docs: options.docs, layout: options.layout, runs: options.runs, applyDocs: options.applyDocs, changedShare: options.changedShare, generator: GENERATOR_VERSION },
    repository: { documents: generated.length, kinds: countKinds(generated) },
    seed,
    scenarios,
    propagation,
  };
  await mkdir(path.dirname(options.out), { recursive: true });
  await writeFile(options.out, JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(renderTable(result.scenarios, propagation, options) + `\nJSON: ${path.relative(process.cwd(), options.out) || options.out}\n`);
}

interface VerifyContext {
  runner: Runner;
  repo: string;
  env: Record<string, string>;
  redis: Redis;
  keys: string[];
  eventsBefore: number;
}

/** Everything apply promises: each document applied, current and mirror agree, no lock left, one event each. */
async function verifyApply(sample: Sample, context: VerifyContext): Promise<void> {
  const count = context.keys.length;
  if (!sample.stdout.includes(`Apply: ${count} applied, 0 already current, 0 stale, 0 failed.`)) {
    throw new Error(`apply did not apply all ${count} documents:\n${sample.stdout.slice(-800)}`);
  }
  const puts = sample.s3['put'] ?? 0;
  if (puts < 2 * count) throw new Error(`apply wrote ${puts} objects to S3, fewer than a revision and a current for each of ${count} documents`);
  // The store must now hold exactly the repository: a plan finds nothing to do.
  const plan = expectCode(
    await statics(context.runner, ['plan', context.repo, '--format', 'json', '--detailed-exitcode'], context.env, { fullOutput: true }),
    0,
    'plan after apply',
  );
  const entries = new Map<string, string>((JSON.parse(plan.stdout) as { entries: Array<{ key: string; revision: string }> }).entries.map((entry) => [entry.key, entry.revision]));
  const mirrored = await context.redis.mget(...context.keys.map((key) => key.replaceAll('/', ':')));
  const wrong = context.keys.filter((key, index) => mirrored[index] !== entries.get(key));
  if (wrong.length > 0) throw new Error(`${wrong.length} mirror keys differ from current, e.g. ${wrong[0]}`);
  const [, locks] = await context.redis.scan('0', 'MATCH', 'lock:*', 'COUNT', 100_000);
  if (locks.length > 0) throw new Error(`apply left ${locks.length} locks behind, e.g. ${locks[0]}`);
  const events = (await context.redis.xlen('statics:events')) - context.eventsBefore;
  if (events < count) throw new Error(`apply published ${events} events, expected ${count}`);
}

type Propagation = (options: {
  storeUrl: string;
  redisUrl: string;
  namespace?: string;
  s3Env: Record<string, string>;
  mirrors: number;
  changes: number;
  workDir: string;
}) => Promise<{ p50Ms: number; p99Ms: number; samples: number }>;

/**
 * Propagation (apply's write → the change in N mirror directories) is measured by
 * bench/propagation.ts, written separately. CALL SITE: used when that module exists.
 */
async function measurePropagationIfPresent(context: { s3Env: Record<string, string>; redisUrl: string; workDir: string }): Promise<Record<string, unknown>> {
  let measurePropagation: Propagation | undefined;
  try {
    // A computed specifier: the module may not exist yet, and the build must not depend on it.
    const specifier = new URL('./propagation.js', import.meta.url).href;
    measurePropagation = ((await import(specifier)) as { measurePropagation?: Propagation }).measurePropagation;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error;
  }
  if (!measurePropagation) {
    log('propagation: bench/propagation.ts is not there yet; skipped');
    return { measured: false, reason: 'bench/propagation.ts not present' };
  }
  log('propagation');
  await mkdir(context.workDir, { recursive: true });
  try {
    const measured = await measurePropagation({
      // A store of its own: each sample plans one document, which must not list the 10,000 others.
      storeUrl: `s3://${STORE_BUCKET}/propagation`,
      redisUrl: context.redisUrl,
      s3Env: context.s3Env,
      mirrors: PROPAGATION_MIRRORS,
      changes: PROPAGATION_CHANGES,
      workDir: context.workDir,
    });
    return { measured: true, mirrors: PROPAGATION_MIRRORS, changes: PROPAGATION_CHANGES, ...measured };
  } catch (error) {
    // Its failure is reported, not fatal: the other figures stand on their own.
    const reason = error instanceof Error ? error.message : String(error);
    log(`propagation failed: ${reason.split('\n')[0]}`);
    return { measured: false, reason };
  }
}

function setTargets(scenarios: Scenario[], options: Options): void {
  const byId = new Map(scenarios.map((scenario) => [scenario.id, scenario]));
  const unchanged = byId.get('plan-unchanged');
  if (unchanged?.ratio !== undefined) {
    const perDocument = unchanged.statics.s3.total >= options.docs;
    unchanged.target = {
      description: 'at most 1.0x rclone, and S3 requests that do not grow by one per unchanged document',
      met: unchanged.ratio <= 1.0 && !perDocument,
    };
  }
  for (const id of ['apply', 'apply-dir']) {
    const apply = byId.get(id);
    if (apply?.ratio !== undefined) apply.target = { description: 'at most 1.5x rclone sync of the same files', met: apply.ratio <= 1.5 };
  }
  if (unchanged && options.docs >= 100_000) {
    const peak = Math.max(unchanged.statics.peakRssBytes ?? 0, unchanged.statics.coldPeakRssBytes ?? 0);
    unchanged.notes.push(`peak resident memory ${mib(peak)} MiB (target: under 512 MiB)`);
    scenarios.push({
      id: 'plan-memory',
      title: `plan peak memory (${options.docs})`,
      docs: options.docs,
      statics: { ...unchanged.statics, peakRssBytes: peak },
      target: { description: 'peak resident memory under 512 MiB', met: peak < MEMORY_TARGET_BYTES },
      notes: ['the larger of the cold and warm plan runs'],
    });
  }
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(0);
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(2);
}

function requests(counts: RequestCounts & { total: number }): string {
  const parts = Object.entries(counts)
    .filter(([kind]) => kind !== 'total')
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([kind, count]) => `${count} ${kind}`);
  return parts.length ? `${counts.total} (${parts.join(', ')})` : '0';
}

function renderTable(scenarios: Scenario[], propagation: Record<string, unknown>, options: Options): string {
  const rows: string[][] = [['measurement', 'statics s', 'docs/s', 'S3 requests', 'Redis cmds', 'peak RSS', 'CPU s', 'rclone s', 'rclone S3 requests', 'ratio', 'target']];
  for (const scenario of scenarios) {
    const s = scenario.statics;
    rows.push([
      scenario.title,
      seconds(s.medianMs),
      String(s.docsPerSecond),
      scenario.id === 'plan-memory' ? '' : requests(s.s3),
      scenario.id === 'plan-memory' ? '' : String(s.redis.total),
      s.peakRssBytes ? `${mib(s.peakRssBytes)} MiB` : '',
      s.cpuMs !== undefined ? seconds(s.cpuMs) : '',
      scenario.peer ? seconds(scenario.peer.medianMs) : '',
      scenario.peer ? requests(scenario.peer.s3) : '',
      scenario.ratio !== undefined ? `${scenario.ratio.toFixed(2)}x` : '',
      scenario.target ? (scenario.target.met ? 'met' : 'MISSED') : '',
    ]);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const lines = rows.map((row) => row.map((cell, column) => (column === 0 || column === 3 || column === 8 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  '));
  lines.splice(1, 0, widths.map((width) => '-'.repeat(width)).join('  '));
  const extra: string[] = [];
  const unchanged = scenarios.find((scenario) => scenario.id === 'plan-unchanged');
  if (unchanged?.statics.coldMs !== undefined) extra.push(`plan, nothing changed, first run with an empty parse cache: ${seconds(unchanged.statics.coldMs)} s`);
  const validate = scenarios.find((scenario) => scenario.id === 'validate');
  if (validate?.statics.warmMs !== undefined) extra.push(`validate with a filled parse cache: ${seconds(validate.statics.warmMs)} s`);
  for (const scenario of scenarios) {
    if (scenario.id === 'plan-memory') continue;
    const peer = scenario.peer ? `, serving rclone ${seconds(scenario.peer.serverCpuMs)} s` : '';
    extra.push(`s3rver CPU, ${scenario.title}: serving statics ${seconds(scenario.statics.serverCpuMs)} s${peer}`);
  }
  if (propagation['measured']) {
    extra.push(`propagation to ${String(propagation['mirrors'])} mirrors (${String(propagation['samples'])} samples): p50 ${String(propagation['p50Ms'])} ms, p99 ${String(propagation['p99Ms'])} ms`);
  } else {
    extra.push(`propagation: not measured (${String(propagation['reason'] ?? 'unknown').split('\n')[0]})`);
  }
  return `\nstatics bench: ${options.docs} documents, ${options.layout} layout, median of ${options.runs} run${options.runs === 1 ? '' : 's'}, ${os.availableParallelism()} cores\n\n${lines.join('\n')}\n\n${extra.join('\n')}\n`;
}

function countKinds(documents: Array<{ kind: string }>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const document of documents) counts[document.kind] = (counts[document.kind] ?? 0) + 1;
  return counts;
}

function machineInfo(): Record<string, unknown> {
  return { platform: `${os.platform()} ${os.release()}`, cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.availableParallelism(), memoryBytes: os.totalmem() };
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
