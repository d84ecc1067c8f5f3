#!/usr/bin/env node
/**
 * Bundles the GitHub Action into dist/: dist/index.mjs (ESM, every dependency inside: the action
 * has no node_modules), chunks loaded only when needed (the AWS SDK, ioredis, Octokit) in
 * dist/chunks/, and dist/licenses.txt (the licenses of the packages bundled).
 * Deterministic: the same sources and node_modules give the same bytes (no timestamps, and paths
 * only relative to the project root). `node scripts/bundle.mjs [--outdir DIR]`; default dist/.
 */
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { outdir: { type: 'string' } } });
const outdir = path.resolve(values.outdir ?? path.join(root, 'dist'));

/**
 * The action reads only `version` from package.json; inlining the whole file would make every
 * unrelated edit of it (a script, a dependency) a change of dist/.
 */
const versionOnly = {
  name: 'package-json-version-only',
  setup(build) {
    const manifest = path.join(root, 'package.json');
    build.onLoad({ filter: /[\\/]package\.json$/ }, async (args) => {
      if (args.path !== manifest) return undefined;
      const { version } = JSON.parse(await readFile(manifest, 'utf8'));
      return { contents: JSON.stringify({ version }), loader: 'json' };
    });
  },
};

// Chunk names carry content hashes: old ones must not linger beside new ones.
await rm(path.join(outdir, 'chunks'), { recursive: true, force: true });

const result = await esbuild.build({
  // Paths esbuild keeps in the output are relative to this, never to where the script runs.
  absWorkingDir: root,
  entryPoints: { index: 'src/action/index.ts' },
  outdir,
  outExtension: { '.js': '.mjs' },
  // Dynamic imports become chunks, so a plan against file:// never parses the AWS SDK.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  platform: 'node',
  format: 'esm',
  // The runner uses node24; the action must also run on Node 20.
  target: 'node20',
  minify: true,
  // Licenses go to licenses.txt, whole, instead of scattered comments.
  legalComments: 'none',
  charset: 'utf8',
  sourcemap: false,
  metafile: true,
  logLevel: 'warning',
  // CommonJS dependencies (the AWS SDK, ioredis) call require(); ESM output has none of its own.
  plugins: [versionOnly],
  banner: {
    js: "import { createRequire as __staticsCreateRequire } from 'node:module'; const require = __staticsCreateRequire(import.meta.url);",
  },
});

await writeFile(path.join(outdir, 'licenses.txt'), await licenses(Object.keys(result.metafile.inputs)));
const outputs = Object.entries(result.metafile.outputs);
const total = outputs.reduce((sum, [, output]) => sum + output.bytes, 0);
const entry = outputs.find(([, output]) => output.entryPoint)?.[1].bytes ?? 0;
process.stdout.write(`bundled ${path.relative(process.cwd(), outdir) || '.'}: ${outputs.length} files, ${mib(total)} (index.mjs ${mib(entry)})\n`);

function mib(bytes) {
  return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

/** Every bundled package with its license; identical license texts are printed once. */
async function licenses(inputs) {
  const packages = new Map();
  for (const input of inputs) {
    const at = input.lastIndexOf('node_modules/');
    if (at < 0) continue;
    const rest = input.slice(at + 'node_modules/'.length).split('/');
    const name = rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
    const dir = input.slice(0, at + 'node_modules/'.length) + name;
    packages.set(dir, name);
  }
  const byText = new Map();
  for (const dir of [...packages.keys()].sort()) {
    const manifest = JSON.parse(await readFile(path.join(root, dir, 'package.json'), 'utf8'));
    const files = (await readdir(path.join(root, dir))).filter((file) => /^(licen[cs]e|copying|notice)/i.test(file)).sort();
    let text = '';
    for (const file of files) text += (await readFile(path.join(root, dir, file), 'utf8')).replace(/\r\n/g, '\n').trim() + '\n\n';
    const license = typeof manifest.license === 'string' ? manifest.license : 'see the package';
    if (!text) text = `(no license file in the package; package.json says: ${license})\n`;
    const key = text.trim();
    if (!byText.has(key)) byText.set(key, []);
    byText.get(key).push(`${manifest.name}@${manifest.version} (${license})`);
  }
  let out = 'Packages bundled in dist/, with their licenses.\n';
  for (const [text, names] of [...byText].sort((a, b) => (a[1][0] < b[1][0] ? -1 : 1))) {
    out += `\n${'='.repeat(78)}\n${names.join('\n')}\n${'-'.repeat(78)}\n${text}\n`;
  }
  return out;
}
