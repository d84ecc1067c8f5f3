/**
 * Parsing on worker threads: the same items in the same order as on one thread, and failures of
 * a thread surface as errors instead of hangs. The threads run the compiled worker (build/),
 * which `npm test` builds first.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_DESIRED_SETTINGS, readDesired, type DesiredRead } from '../../src/desired/index.js';
import { PreparePool } from '../../src/desired/pool.js';
import { formatProblem } from '../../src/errors.js';
import { PROJECT_ROOT } from '../support/cli.js';

const WORKER = pathToFileURL(path.join(PROJECT_ROOT, 'build/src/desired/worker.js'));
const built = existsSync(WORKER);
const temps: string[] = [];
afterAll(async () => {
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});

async function repository(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'statics-pool-'));
  temps.push(root);
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), content);
  }
  return root;
}

/** 700 documents in several types, some invalid in different ways, plus raw files: enough that threads start. */
function manyFiles(): Record<string, string> {
  const files: Record<string, string> = {
    'schemas/flags.schema.json': JSON.stringify({ type: 'object', required: ['enabled'], properties: { enabled: { type: 'boolean' } } }),
  };
  for (let i = 0; i < 700; i++) {
    const domain = ['a', 'b', 'c'][i % 3];
    if (i % 50 === 7) files[`documents/${domain}/flags/bad-${i}.yaml`] = 'enabled: "yes"\n';
    else if (i % 50 === 11) files[`documents/${domain}/other/broken-${i}.yaml`] = 'a: [unclosed\n';
    else if (i % 25 === 3) files[`documents/${domain}/robots/r-${i}.txt`] = `User-agent: ${i}\n`;
    else if (i % 2) files[`documents/${domain}/flags/f-${i}.yaml`] = `enabled: ${i % 4 === 1}\nlist: [${i}, ${i + 1}]\nnote: "n${i}"\n`;
    else files[`documents/${domain}/other/o-${i}.json`] = JSON.stringify({ z: i, a: { b: [i] } });
  }
  return files;
}

async function collect(root: string, threads: number, workerUrl = WORKER): Promise<string[]> {
  const lines: string[] = [];
  const describe = (item: DesiredRead) =>
    'problem' in item ? `! ${formatProblem(item.problem)}` : 'document' in item ? `${item.document.key} ${item.document.revision} ${item.document.bytes.toString('base64')}` : `known ${item.known.key}`;
  for await (const item of readDesired(root, DEFAULT_DESIRED_SETTINGS, { threads, workerUrl, cache: null })) lines.push(describe(item));
  return lines;
}

describe.runIf(built)('parsing on worker threads', () => {
  it('yields exactly what one thread yields, in the same order', async () => {
    const root = await repository(manyFiles());
    const inline = await collect(root, 0);
    const threaded = await collect(root, 2);
    expect(inline.length).toBe(700);
    expect(inline.filter((line) => line.startsWith('!')).length).toBeGreaterThan(5);
    expect(threaded).toEqual(inline);
  });

  it('keeps each task with its own file when results come back out of order', async () => {
    const root = await repository({ 'documents/x/y/small.yaml': 'a: 1\n', 'documents/x/y/large.yaml': `list:\n${'  - item\n'.repeat(20000)}` });
    const pool = new PreparePool({ root, settings: DEFAULT_DESIRED_SETTINGS }, { threads: 2, workerUrl: WORKER });
    try {
      const file = (id: string) => ({ key: `x/y/${id}`, domain: 'x', type: 'y', id, ext: 'yaml', path: `documents/x/y/${id}.yaml`, absolutePath: path.join(root, `documents/x/y/${id}.yaml`) });
      const large = pool.prepare(file('large'), Buffer.from(`list:\n${'  - item\n'.repeat(20000)}`));
      const small = pool.prepare(file('small'), Buffer.from('a: 1\n'));
      const [largeItems, smallItems] = await Promise.all([large, small]);
      expect('document' in largeItems[0]! && largeItems[0].document.key).toBe('x/y/large');
      expect('document' in smallItems[0]! && smallItems[0].document.bytes.toString()).toBe('{\n  "a": 1\n}\n');
      expect(Buffer.isBuffer('document' in smallItems[0]! && smallItems[0].document.bytes)).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it('fails the read with a clear error when a thread cannot start, instead of hanging', async () => {
    const root = await repository(manyFiles());
    const broken = path.join(root, 'broken-worker.mjs');
    await writeFile(broken, 'throw new Error("no parser here");\n');
    const reading = collect(root, 2, pathToFileURL(broken)).catch((error: unknown) => error);
    await expect(reading).resolves.toMatchObject({ code: 'internal', message: expect.stringMatching(/parser thread failed: .*no parser here/) });
    // The same through the pool itself, for a thread that exits.
    const exiting = path.join(root, 'exiting-worker.mjs');
    await writeFile(exiting, 'process.exit(3);\n');
    const pool = new PreparePool({ root, settings: DEFAULT_DESIRED_SETTINGS }, { threads: 1, workerUrl: pathToFileURL(exiting) });
    try {
      const file = { key: 'x/y/z', domain: 'x', type: 'y', id: 'z', ext: 'yaml', path: 'documents/x/y/z.yaml', absolutePath: '/nowhere' };
      await expect(pool.prepare(file, Buffer.from('a: 1\n'))).rejects.toMatchObject({ code: 'internal', message: expect.stringMatching(/stopped unexpectedly \(exit code 3\)/) });
      await expect(pool.prepare(file, Buffer.from('a: 1\n'))).rejects.toMatchObject({ code: 'internal' });
    } finally {
      await pool.close();
    }
  });

  it('rejects what is still outstanding when closed', async () => {
    const root = await repository({});
    const pool = new PreparePool({ root, settings: DEFAULT_DESIRED_SETTINGS }, { threads: 1, workerUrl: WORKER });
    const file = { key: 'x/y/z', domain: 'x', type: 'y', id: 'z', ext: 'yaml', path: 'documents/x/y/z.yaml', absolutePath: '/nowhere' };
    const pending = pool.prepare(file, Buffer.from(`list:\n${'  - item\n'.repeat(50000)}`));
    const settled = expect(pending).rejects.toMatchObject({ code: 'internal', message: expect.stringMatching(/stopped/) });
    await pool.close();
    await settled;
    await expect(pool.prepare(file, Buffer.from('a: 1\n'))).rejects.toMatchObject({ code: 'internal' });
  });
});
