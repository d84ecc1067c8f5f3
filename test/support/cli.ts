/** Runs the built CLI as a subprocess, exactly as a user would. */
import { spawn } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(PROJECT_ROOT, 'bin/statics.js');
const TEST_CACHE_DIR = path.join(tmpdir(), 'statics-test-cache');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string;
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries({ ...process.env, NO_COLOR: '1', ...options.env })) {
      if (value !== undefined) env[name] = value;
    }
    // Tests must not pick up a developer's settings.
    for (const name of ['STATICS_STORE', 'STATICS_REDIS_URL', 'STATICS_PRUNE', 'FORCE_COLOR']) {
      if (!options.env || !(name in options.env)) delete env[name];
    }
    // The parse cache of test runs stays out of the developer's own cache folder.
    if (!options.env || !('STATICS_CACHE_DIR' in options.env)) env.STATICS_CACHE_DIR = TEST_CACHE_DIR;
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd ?? PROJECT_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** A private copy of an example repository in a temporary directory. */
export async function tempRepository(example = 'basic'): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const parent = await mkdtemp(path.join(tmpdir(), 'statics-test-'));
  const dir = path.join(parent, 'repo');
  await cp(path.join(PROJECT_ROOT, 'examples', example), dir, {
    recursive: true,
    filter: (source) => !source.split(path.sep).includes('.statics'),
  });
  return { dir, cleanup: () => rm(parent, { recursive: true, force: true }) };
}

export async function emptyTempDir(): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'statics-test-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A temporary repository made of the given files (path → content). */
export async function repositoryOf(files: Record<string, string | Buffer>): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const { mkdir, writeFile } = await import('node:fs/promises');
  const temp = await emptyTempDir();
  for (const [file, content] of Object.entries(files)) {
    const target = path.join(temp.dir, file);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, content);
  }
  return temp;
}

/** Every file under a directory with its bytes, to prove a command changed nothing. */
export async function snapshot(dir: string): Promise<Map<string, string>> {
  const { readdir, readFile } = await import('node:fs/promises');
  const files = new Map<string, string>();
  const walk = async (current: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(current, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) files.set(path.relative(dir, full), (await readFile(full)).toString('base64'));
    }
  };
  await walk(dir);
  return files;
}
