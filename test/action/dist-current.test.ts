/**
 * dist/ is what GitHub runs, so it must be exactly what the sources build: the bundle is rebuilt
 * (twice, to prove it deterministic) and compared byte for byte with the committed files.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../support/cli.js';
import { manifest } from './helpers/runner.js';

const run = promisify(execFile);
const DIST = path.join(PROJECT_ROOT, 'dist');
const temps: string[] = [];
afterAll(async () => {
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});

async function bundleInto(): Promise<string> {
  const out = await mkdtemp(path.join(tmpdir(), 'statics-dist-'));
  temps.push(out);
  // From another working directory, so nothing may depend on where the script is started.
  await run(process.execPath, [path.join(PROJECT_ROOT, 'scripts/bundle.mjs'), '--outdir', out], { cwd: tmpdir() });
  return out;
}

/** Every file under `dir` by its relative path, in sorted order. */
async function files(dir: string): Promise<Map<string, Buffer>> {
  const result = new Map<string, Buffer>();
  for (const entry of (await readdir(dir, { recursive: true, withFileTypes: true })).sort((a, b) => (path.join(a.parentPath, a.name) < path.join(b.parentPath, b.name) ? -1 : 1))) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    result.set(path.relative(dir, full).split(path.sep).join('/'), await readFile(full));
  }
  return result;
}

describe('dist/', () => {
  it('is exactly what npm run bundle builds from the sources, every time', async () => {
    const [first, second] = await Promise.all([bundleInto(), bundleInto()]);
    const built = await files(first);
    const again = await files(second);
    const committed = await files(DIST);
    expect([...built.keys()].filter((name) => !/^chunks\/[\w-]+\.mjs$/.test(name))).toEqual(['index.mjs', 'licenses.txt']);
    expect([...again.keys()]).toEqual([...built.keys()]);
    for (const [name, bytes] of built) expect(again.get(name)!.equals(bytes), `${name} differs between two builds`).toBe(true);
    expect([...committed.keys()], 'dist/ holds other files than the bundle makes').toEqual([...built.keys()]);
    for (const [name, bytes] of built) {
      expect(committed.get(name)!.equals(bytes), `dist/${name} is not what the sources build: run npm run bundle and commit dist/`).toBe(true);
    }
  });

  it('is what action.yml runs, and leaks no build machine paths', async () => {
    const spec = manifest();
    expect(spec.runs.using).toBe('node24');
    expect(spec.runs.main).toBe('dist/index.mjs');
    const all = await files(DIST);
    expect(all.has(spec.runs.main.replace(/^dist\//, ''))).toBe(true);
    const code = [...all].filter(([name]) => name.endsWith('.mjs')).map(([, bytes]) => bytes.toString('utf8')).join('\n');
    for (const local of [PROJECT_ROOT, homedir(), tmpdir() + path.sep].filter((p) => p.length > 4)) expect(code.includes(local), local).toBe(false);
    // That it needs no node_modules is proven by the other tests: they run a copy of dist/ alone.
  });
});
