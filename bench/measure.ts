/** Running one measured command: wall time, peak memory, and the requests it caused. */
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchRedis, BenchS3, RequestCounts } from './services.js';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(PROJECT_ROOT, 'bin/statics.js');
const PEAK_RSS_PRELOAD = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), 'peak-rss.js')).href;

export interface Sample {
  wallMs: number;
  /** Peak resident memory of the process (statics only). */
  peakRssBytes?: number;
  /** CPU time of the measured process (statics only) and of s3rver, which runs in this process. */
  cpuMs?: number;
  serverCpuMs: number;
  s3: RequestCounts;
  redis: { total: number; byCommand: Record<string, number> };
  code: number;
  stdout: string;
  stderr: string;
}

export interface Runner {
  s3: BenchS3;
  redis: BenchRedis;
  workDir: string;
}

/** Variables no measured process may inherit: a developer's own settings would skew the run. */
const SCRUBBED = /^(STATICS_|AWS_|RCLONE_)|^NODE_OPTIONS$|^FORCE_COLOR$/;

export function cleanEnv(extra: Record<string, string | undefined>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined && !SCRUBBED.test(name)) env[name] = value;
  for (const [name, value] of Object.entries(extra)) if (value !== undefined) env[name] = value;
  return env;
}

/** Runs `command`, counting what it asked of S3 and Redis (nothing else runs meanwhile). */
export async function measure(
  runner: Runner,
  command: string,
  args: string[],
  env: Record<string, string>,
  options: { rss?: boolean; fullOutput?: boolean } = {},
): Promise<Sample> {
  runner.s3.takeCounts();
  await runner.redis.takeCounts();
  const rssFile = path.join(runner.workDir, `rss-${process.pid}-${Date.now()}.txt`);
  const fullArgs = options.rss ? ['--import', PEAK_RSS_PRELOAD, ...args] : args;
  const childEnv = options.rss ? { ...env, STATICS_BENCH_RSS_FILE: rssFile } : env;
  const serverCpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(command, fullArgs, { cwd: PROJECT_ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: string[] = [];
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (options.fullOutput) chunks.push(chunk);
      else out = keepTail(out + chunk);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err = keepTail(err + chunk)));
    child.on('error', reject);
    child.on('close', (exitCode) => resolve({ code: exitCode ?? -1, stdout: options.fullOutput ? chunks.join('') : out, stderr: err }));
  });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const serverCpuUsed = process.cpuUsage(serverCpu);
  const serverCpuMs = Math.round((serverCpuUsed.user + serverCpuUsed.system) / 1000);
  const sample: Sample = { wallMs, serverCpuMs, s3: runner.s3.takeCounts(), redis: await runner.redis.takeCounts(), code, stdout, stderr };
  if (options.rss) {
    const text = await readFile(rssFile, 'utf8').catch(() => '');
    if (text) Object.assign(sample, JSON.parse(text) as { peakRssBytes: number; cpuMs: number });
    await rm(rssFile, { force: true });
  }
  return sample;
}

/** Output is kept for error reports only: the last 64 KB is plenty. */
function keepTail(text: string): string {
  return text.length > 65_536 ? text.slice(-65_536) : text;
}

export function statics(runner: Runner, args: string[], env: Record<string, string>, options: { rss?: boolean; fullOutput?: boolean } = {}): Promise<Sample> {
  return measure(runner, process.execPath, [CLI, ...args], env, options);
}

/** Fails the run with the command's own words when it did not do what was asked. */
export function expectCode(sample: Sample, expected: number | number[], what: string): Sample {
  const codes = Array.isArray(expected) ? expected : [expected];
  if (!codes.includes(sample.code)) {
    throw new Error(`${what} exited ${sample.code}, expected ${codes.join(' or ')}:\n${sample.stderr.slice(-2000)}\n${sample.stdout.slice(-2000)}`);
  }
  return sample;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function totalRequests(counts: RequestCounts): number {
  return Object.values(counts).reduce((sum, count) => sum + count, 0);
}
