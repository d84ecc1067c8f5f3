import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadSettings, resolveStoreUrl } from '../../src/config/settings.js';
import { parseDuration, parseSize } from '../../src/config/units.js';

const temps: string[] = [];
afterEach(async () => {
  while (temps.length) await rm(temps.pop()!, { recursive: true, force: true });
});

async function repoWith(settings?: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'statics-config-'));
  temps.push(dir);
  if (settings !== undefined) await writeFile(path.join(dir, 'statics.yaml'), settings);
  return dir;
}

describe('settings', () => {
  it('take flags over environment over statics.yaml over defaults', async () => {
    const dir = await repoWith('store: s3://from-file/p\nparallelism: 3\nprune: true\n');
    const fromFile = await loadSettings(dir, {}, {});
    expect(fromFile).toMatchObject({ store: 's3://from-file/p', parallelism: 3, prune: true, lockTimeoutMs: 30_000 });
    const fromEnv = await loadSettings(dir, {}, { STATICS_STORE: 's3://from-env', STATICS_PARALLELISM: '5', STATICS_PRUNE: 'false' });
    expect(fromEnv).toMatchObject({ store: 's3://from-env', parallelism: 5, prune: false });
    const fromFlags = await loadSettings(dir, { store: 'file://elsewhere', parallelism: 7, prune: true }, { STATICS_STORE: 's3://from-env' });
    expect(fromFlags).toMatchObject({ store: `file://${path.join(dir, 'elsewhere')}`, parallelism: 7, prune: true });
  });

  it('default to the embedded store inside the repository', async () => {
    const dir = await repoWith();
    expect((await loadSettings(dir, {}, {})).store).toBe(`file://${path.join(dir, '.statics')}`);
  });

  it('name the line of an invalid setting', async () => {
    const dir = await repoWith('store: file://.statics\ncolour: blue\n');
    await expect(loadSettings(dir, {}, {})).rejects.toMatchObject({ code: 'config', location: { file: 'statics.yaml', line: 1, col: 1 } });
    const bad = await repoWith('deleteGuard: 2\n');
    await expect(loadSettings(bad, {}, {})).rejects.toMatchObject({ message: 'deleteGuard: must be <= 1', location: { line: 1, col: 14 } });
  });

  it('reject a store that is neither file:// nor a valid bucket', () => {
    expect(() => resolveStoreUrl('http://x', '/r')).toThrow(/must start with file:\/\/ or s3:\/\//);
    expect(() => resolveStoreUrl('s3://Bad_Bucket/x', '/r')).toThrow(/not a valid bucket name/);
    expect(resolveStoreUrl('s3://bucket/a/b/', '/r')).toBe('s3://bucket/a/b');
  });
});

describe('units', () => {
  it('parse durations and sizes', () => {
    expect(parseDuration('500ms', 't')).toBe(500);
    expect(parseDuration('30s', 't')).toBe(30_000);
    expect(parseDuration('2m', 't')).toBe(120_000);
    expect(parseDuration('7', 't')).toBe(7_000);
    expect(() => parseDuration('soon', 'lock timeout')).toThrow(/lock timeout "soon" is not a duration/);
    expect(parseSize('5MiB', 'f')).toBe(5 * 1024 * 1024);
    expect(parseSize('1.5 KB', 'f')).toBe(1500);
    expect(parseSize(42, 'f')).toBe(42);
    expect(() => parseSize('lots', 'f')).toThrow(/not a size/);
  });
});
