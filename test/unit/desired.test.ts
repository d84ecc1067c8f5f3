import { describe, it, expect, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  canonicalJson,
  compareCodePoints,
  DEFAULT_DESIRED_SETTINGS,
  isTextMediaType,
  mediaTypeFor,
  prepareDocument,
  readDesired,
  sha256Hex,
  type DesiredSettings,
} from '../../src/desired/index.js';
import { formatProblem, type Problem } from '../../src/errors.js';
import type { DesiredDocument } from '../../src/model.js';

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A fresh repository under the OS temp folder with the given files (text or bytes). */
function makeRepo(files: Record<string, string | Uint8Array>): string {
  const root = mkdtempSync(join(tmpdir(), 'statics-desired-'));
  made.push(root);
  mkdirSync(join(root, 'documents'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

async function collect(
  root: string,
  settings: DesiredSettings = DEFAULT_DESIRED_SETTINGS,
  options: { accept?: (key: string) => boolean } = {},
): Promise<{ documents: DesiredDocument[]; problems: Problem[]; lines: string[]; order: string[] }> {
  const documents: DesiredDocument[] = [];
  const problems: Problem[] = [];
  const order: string[] = [];
  for await (const item of readDesired(root, settings, options)) {
    if ('document' in item) {
      documents.push(item.document);
      order.push(item.document.key);
    } else {
      problems.push(item.problem);
      order.push(`! ${item.problem.location?.file ?? ''}`);
    }
  }
  return { documents, problems, lines: problems.map(formatProblem), order };
}

function documentFor(documents: DesiredDocument[], key: string): DesiredDocument {
  const found = documents.find((document) => document.key === key);
  if (!found) throw new Error(`no document ${key} among ${documents.map((d) => d.key).join(', ')}`);
  return found;
}

describe('canonical bytes', () => {
  it('are identical when keys are reordered or re-indented, and for YAML and JSON of one value', async () => {
    const root = makeRepo({
      'documents/app/flags/a.yaml': 'name: x\nlimits:\n  max: 3\n  min: 1\ntags: [b, a]\nenabled: true\n',
      'documents/app/flags/b.yml': '# same value, other order and indent\nenabled: true\ntags:\n    - b\n    - a\nlimits: {min: 1, max: 3}\nname: "x"\n',
      'documents/app/flags/c.json': '{"tags":["b","a"],"name":"x","enabled":true,"limits":{"min":1,"max":3}}',
    });
    const { documents, problems } = await collect(root);
    expect(problems).toEqual([]);
    const expected = '{\n  "enabled": true,\n  "limits": {\n    "max": 3,\n    "min": 1\n  },\n  "name": "x",\n  "tags": [\n    "b",\n    "a"\n  ]\n}\n';
    for (const key of ['app/flags/a', 'app/flags/b', 'app/flags/c']) {
      const document = documentFor(documents, key);
      expect(document.bytes.toString('utf8')).toBe(expected);
      expect(document.mediaType).toBe('application/json');
      expect(document.kind).toBe('structured');
      expect(document.size).toBe(Buffer.byteLength(expected));
      expect(document.revision).toBe(sha256Hex(Buffer.from(expected)));
    }
    expect(documentFor(documents, 'app/flags/a').path).toBe('documents/app/flags/a.yaml');
  });

  it('sorts keys by code point at every depth, without hoisting integer-like keys', () => {
    expect(canonicalJson({ b: 1, 10: 2, 2: 3, a: { z: [], y: {} } })).toBe(
      '{\n  "10": 2,\n  "2": 3,\n  "a": {\n    "y": {},\n    "z": []\n  },\n  "b": 1\n}\n',
    );
    // U+FF5E sorts before U+1F600 by code point, after it by UTF-16 unit.
    expect(canonicalJson({ '\u{1F600}': 1, '\uFF5E': 2 })).toBe('{\n  "\uFF5E": 2,\n  "\u{1F600}": 1\n}\n');
    expect(compareCodePoints('\uFF5E', '\u{1F600}')).toBeLessThan(0);
    expect(compareCodePoints('a', 'ab')).toBeLessThan(0);
    expect(canonicalJson('x')).toBe('"x"\n');
    expect(canonicalJson({ gone: undefined, kept: null })).toBe('{\n  "kept": null\n}\n');
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(/NaN/);
    expect(() => canonicalJson(new Date())).toThrow(/Date/);
  });

  it('hashes with sha256 in lowercase hex', () => {
    expect(sha256Hex(Buffer.from('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('resolves aliases and merge keys, explicit keys winning', async () => {
    const root = makeRepo({
      'documents/app/cfg/merge.yaml': 'base: &base {retries: 3, timeout: 10}\nservice:\n  <<: *base\n  timeout: 30\nlist: [*base]\n',
    });
    const { documents, problems } = await collect(root);
    expect(problems).toEqual([]);
    expect(JSON.parse(documentFor(documents, 'app/cfg/merge').bytes.toString())).toEqual({
      base: { retries: 3, timeout: 10 },
      service: { retries: 3, timeout: 30 },
      list: [{ retries: 3, timeout: 10 }],
    });
  });

  it('accepts JSON indented with tabs and keeps a key named __proto__ as data', async () => {
    const root = makeRepo({ 'documents/app/cfg/tabs.json': '{\n\t"__proto__": {"x": 1},\n\t"b": [1,\n\t\t2]\n}\n' });
    const { documents, problems } = await collect(root);
    expect(problems).toEqual([]);
    expect(documentFor(documents, 'app/cfg/tabs').bytes.toString()).toBe(
      '{\n  "__proto__": {\n    "x": 1\n  },\n  "b": [\n    1,\n    2\n  ]\n}\n',
    );
  });
});

describe('parse problems', () => {
  const cases: Array<[string, string, string]> = [
    ['malformed YAML', 'a: 1\nb: "open\n', 'documents/d/t/x.yaml:3:1: Missing closing "quote'],
    ['nested mapping in a compact one', 'a: 1\nb: c: d\n', 'documents/d/t/x.yaml:2:4: Nested mappings are not allowed in compact mappings'],
    ['duplicate key', 'a: 1\nb:\n  c: 2\n  c: 3\n', 'documents/d/t/x.yaml:4:3: duplicate key "c"'],
    ['duplicate quoted key', '"it\'s": 1\n"it\'s": 2\n', 'documents/d/t/x.yaml:2:1: duplicate key "it\'s"'],
    ['duplicate key in a flow map', 'm: {long key: 1, long key: 2}\n', 'documents/d/t/x.yaml:1:18: duplicate key "long key"'],
    ['keys colliding once stringified', '1: a\n"1": b\n', 'documents/d/t/x.yaml:2:1: duplicate key "1"'],
    ['two documents', 'a: 1\n---\nb: 2\n', 'documents/d/t/x.yaml:2:1: a file holds exactly one YAML document; a second one starts here'],
    ['unknown tag', 'a: 1\nb: !vault secret\n', 'documents/d/t/x.yaml:2:4: unknown tag !vault'],
    ['NaN', 'a: .nan\n', 'documents/d/t/x.yaml:1:4: NaN cannot be represented in JSON'],
    ['infinity', 'a:\n  - .inf\n', 'documents/d/t/x.yaml:2:5: Infinity cannot be represented in JSON'],
    ['an integer beyond 2^53', 'id: 12345678901234567890\n', 'documents/d/t/x.yaml:1:5: the integer 12345678901234567890 is too large to keep exactly; quote it to keep it as a string'],
    ['binary data', 'a: !!binary aGk=\n', 'documents/d/t/x.yaml:1:13: binary data cannot be represented in JSON; use a base64 string'],
    ['a collection as a key', '? [a, b]\n: c\n', 'documents/d/t/x.yaml:1:3: a map key must be a string, not a collection'],
    ['a self-containing alias', 'a: &x [1, *x]\n', 'documents/d/t/x.yaml:1:11: alias *x refers to a value that contains it'],
    ['an empty file', '', 'documents/d/t/x.yaml: empty document'],
    ['only comments', '# nothing yet\n', 'documents/d/t/x.yaml: empty document'],
    ['a bare document marker', '---\n', 'documents/d/t/x.yaml: empty document'],
  ];
  for (const [name, source, expected] of cases) {
    it(`reports ${name} at its line and column`, async () => {
      const root = makeRepo({ 'documents/d/t/x.yaml': source, 'documents/d/t/ok.yaml': 'fine: true\n' });
      const { documents, lines, problems } = await collect(root);
      expect(lines).toEqual([expected]);
      expect(problems[0]!.code).toBe('parse');
      // The broken file yields no document; its neighbour still does.
      expect(documents.map((document) => document.key)).toEqual(['d/t/ok']);
    });
  }

  it('stops aliases that expand exponentially', async () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let level = 1; level < 9; level++) {
      const previous = String.fromCharCode(96 + level);
      const name = String.fromCharCode(97 + level);
      levels.push(`${name}: &${name} [${Array(10).fill(`*${previous}`).join(', ')}]`);
    }
    const root = makeRepo({ 'documents/d/t/bomb.yaml': levels.join('\n') + '\n' });
    const started = Date.now();
    const { lines, documents } = await collect(root);
    expect(documents).toEqual([]);
    expect(lines).toEqual(['documents/d/t/bomb.yaml:1:1: aliases expand to too many values']);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('reports every error of a file, sorted by position', async () => {
    const root = makeRepo({ 'documents/d/t/x.yaml': 'a: !one 1\nb: 2\nb: 3\nc: !two 4\n' });
    const { lines } = await collect(root);
    expect(lines).toEqual([
      'documents/d/t/x.yaml:1:4: unknown tag !one',
      'documents/d/t/x.yaml:3:1: duplicate key "b"',
      'documents/d/t/x.yaml:4:4: unknown tag !two',
    ]);
  });

  it('holds a .json file to JSON, not to the looser YAML', async () => {
    const root = makeRepo({
      'documents/d/t/comma.json': '{\n  "a": 1,\n}\n',
      'documents/d/t/dup.json': '{"a": 1,\n "a": 2}',
      'documents/d/t/loose.yaml': '{"a": 1,}',
    });
    const { lines, documents } = await collect(root);
    expect(lines).toEqual([
      'documents/d/t/comma.json:3:1: not valid JSON: Expected double-quoted property name',
      'documents/d/t/dup.json:2:2: duplicate key "a"',
    ]);
    expect(documents.map((document) => document.key)).toEqual(['d/t/loose']);
  });

  it('rejects bytes that are not UTF-8', async () => {
    const root = makeRepo({ 'documents/d/t/x.yaml': Buffer.from([0x61, 0x3a, 0x20, 0xff, 0xfe, 0x0a]) });
    const { lines } = await collect(root);
    expect(lines).toEqual(['documents/d/t/x.yaml: not valid UTF-8']);
  });
});

describe('names and layout', () => {
  it('rejects invalid names, misplaced files and deeper folders, naming each file', async () => {
    const root = makeRepo({
      'documents/loose.yaml': 'a: 1\n',
      'documents/app/loose.yaml': 'a: 1\n',
      'documents/app/flags/bad name.yaml': 'a: 1\n',
      'documents/app/flags/host:port.yaml': 'a: 1\n',
      'documents/app/flags/a..b.yaml': 'a: 1\n',
      'documents/app/flags/README': 'no extension\n',
      'documents/app/flags/nested/deep.yaml': 'a: 1\n',
      'documents/app/flags/nested/deeper/deepest.yaml': 'a: 1\n',
      'documents/app/flags/good.yaml': 'a: 1\n',
      'documents/bad domain/flags/x.yaml': 'a: 1\n',
      'documents/app/-flags/x.yaml': 'a: 1\n',
    });
    const { documents, problems, lines } = await collect(root);
    expect(documents.map((document) => document.key)).toEqual(['app/flags/good']);
    expect(new Set(problems.map((problem) => problem.code))).toEqual(new Set(['invalid-name']));
    expect(lines).toEqual(
      expect.arrayContaining([
        'documents/loose.yaml: not in a domain/type folder: documents live at documents/<domain>/<type>/<id>.<ext>',
        'documents/app/loose.yaml: not in a type folder: documents live at documents/<domain>/<type>/<id>.<ext>',
        expect.stringMatching(/^documents\/app\/flags\/bad name\.yaml: "bad name" is not a valid document id/),
        expect.stringMatching(/^documents\/app\/flags\/host:port\.yaml: "host:port" is not a valid document id/),
        expect.stringMatching(/^documents\/app\/flags\/a\.\.b\.yaml: "a\.\.b" is not a valid document id/),
        'documents/app/flags/README: no file extension: documents live at documents/<domain>/<type>/<id>.<ext>',
        'documents/app/flags/nested/deep.yaml: folder too deep: documents live at documents/<domain>/<type>/<id>.<ext>',
        'documents/app/flags/nested/deeper/deepest.yaml: folder too deep: documents live at documents/<domain>/<type>/<id>.<ext>',
        expect.stringMatching(/^documents\/bad domain: "bad domain" is not a valid domain name/),
        expect.stringMatching(/^documents\/app\/-flags: "-flags" is not a valid type name/),
      ]),
    );
    expect(lines).toHaveLength(10);
  });

  it('takes the id from everything before the last extension', async () => {
    const root = makeRepo({ 'documents/app/cfg/v1.2.yaml': 'a: 1\n', 'documents/app/cfg/archive.tar.gz': Buffer.from([1, 2, 3]) });
    const { documents, problems } = await collect(root);
    expect(problems).toEqual([]);
    expect(documents.map((document) => [document.key, document.path])).toEqual([
      ['app/cfg/archive.tar', 'documents/app/cfg/archive.tar.gz'],
      ['app/cfg/v1.2', 'documents/app/cfg/v1.2.yaml'],
    ]);
  });

  it('reports two files giving the same key, and yields neither', async () => {
    const root = makeRepo({
      'documents/app/flags/x.yaml': 'a: 1\n',
      'documents/app/flags/x.json': '{"a": 2}',
      'documents/app/flags/y.yaml': 'a: 3\n',
    });
    const { documents, lines, problems } = await collect(root);
    expect(documents.map((document) => document.key)).toEqual(['app/flags/y']);
    expect(problems.every((problem) => problem.code === 'invalid-name')).toBe(true);
    expect(lines).toEqual([
      'documents/app/flags/x.json: the document key app/flags/x also comes from documents/app/flags/x.yaml: keep one file per key',
      'documents/app/flags/x.yaml: the document key app/flags/x also comes from documents/app/flags/x.json: keep one file per key',
    ]);
  });

  it('skips hidden files and folders silently', async () => {
    const root = makeRepo({
      'documents/.DS_Store': 'junk',
      'documents/app/.gitkeep': '',
      'documents/app/flags/.x.yaml.swp': 'junk',
      'documents/.hidden/flags/x.yaml': 'a: 1\n',
      'documents/app/flags/x.yaml': 'a: 1\n',
    });
    const { documents, problems } = await collect(root);
    expect(problems).toEqual([]);
    expect(documents.map((document) => document.key)).toEqual(['app/flags/x']);
  });

  it('yields in key order (domain, type, id), not in file-name or path-string order', async () => {
    const files: Record<string, string> = {};
    // `a-b` < `a.` < `a/` as strings, but as tuples domain `a` comes before `a-b`.
    for (const domain of ['a-b', 'a']) {
      for (const id of ['x-y', 'x', 'w']) files[`documents/${domain}/t/${id}.yaml`] = `id: ${id}\n`;
    }
    for (let i = 0; i < 150; i++) files[`documents/bulk/t/n${String(i).padStart(3, '0')}.yaml`] = `n: ${i}\n`;
    const root = makeRepo(files);
    const { documents, problems } = await collect(root);
    expect(problems).toEqual([]);
    const keys = documents.map((document) => document.key);
    expect(keys.slice(0, 6)).toEqual(['a/t/w', 'a/t/x', 'a/t/x-y', 'a-b/t/w', 'a-b/t/x', 'a-b/t/x-y']);
    expect(keys.slice(6)).toEqual(Array.from({ length: 150 }, (_, i) => `bulk/t/n${String(i).padStart(3, '0')}`));
    // Each document carries its own bytes, whatever order the reads finished in.
    expect(JSON.parse(documentFor(documents, 'bulk/t/n149').bytes.toString())).toEqual({ n: 149 });
  });

  it('puts problems in key order among the documents', async () => {
    const root = makeRepo({
      'documents/d/t/a.yaml': 'a: 1\n',
      'documents/d/t/b.yaml': 'a: [\n',
      'documents/d/t/c.yaml': 'a: 1\n',
    });
    const { order } = await collect(root);
    expect(order).toEqual(['d/t/a', '! documents/d/t/b.yaml', 'd/t/c']);
  });

  it('reports a missing documents/ folder and accepts an empty one', async () => {
    const missing = mkdtempSync(join(tmpdir(), 'statics-desired-'));
    made.push(missing);
    const { lines, documents } = await collect(missing);
    expect(documents).toEqual([]);
    expect(lines).toEqual([`no documents/ folder in ${missing}`]);

    const empty = makeRepo({});
    expect(await collect(empty)).toMatchObject({ documents: [], problems: [] });
  });

  it('filters by key with accept() before reading a file', async () => {
    const root = makeRepo({
      'documents/app/flags/wanted.yaml': 'a: 1\n',
      'documents/app/flags/other.yaml': 'x'.repeat(200),
      'documents/web/assets/big.bin': Buffer.alloc(200),
    });
    const settings = { ...DEFAULT_DESIRED_SETTINGS, maxFileBytes: 100 };
    const seen: string[] = [];
    const { documents, problems } = await collect(root, settings, {
      accept: (key) => {
        seen.push(key);
        return key === 'app/flags/wanted';
      },
    });
    // The other files are over the limit: had they been read, they would be problems.
    expect(problems).toEqual([]);
    expect(documents.map((document) => document.key)).toEqual(['app/flags/wanted']);
    expect(seen.sort()).toEqual(['app/flags/other', 'app/flags/wanted', 'web/assets/big']);
  });
});

describe('symlinks, sizes and unreadable files', () => {
  it('follows links that stay inside the repository and rejects links that leave it', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'statics-outside-'));
    made.push(outside);
    writeFileSync(join(outside, 'secret.yaml'), 'secret: true\n');
    const root = makeRepo({
      'shared/common.yaml': 'shared: true\n',
      'documents/app/cfg/real.yaml': 'shared: true\n',
    });
    symlinkSync('../../../shared/common.yaml', join(root, 'documents/app/cfg/linked.yaml'));
    symlinkSync(join(outside, 'secret.yaml'), join(root, 'documents/app/cfg/escape.yaml'));
    symlinkSync(outside, join(root, 'documents/outside'));
    const { documents, problems, lines } = await collect(root);
    expect(documents.map((document) => document.key)).toEqual(['app/cfg/linked', 'app/cfg/real']);
    expect(documentFor(documents, 'app/cfg/linked').revision).toBe(documentFor(documents, 'app/cfg/real').revision);
    expect(documentFor(documents, 'app/cfg/linked').path).toBe('documents/app/cfg/linked.yaml');
    expect(problems.map((problem) => problem.code)).toEqual(['symlink', 'symlink']);
    expect(lines[0]).toMatch(/^documents\/app\/cfg\/escape\.yaml: symbolic link leads outside the repository/);
    expect(lines[1]).toMatch(/^documents\/outside: symbolic link leads outside the repository/);
  });

  it('follows a linked folder inside the repository and stops at a cycle', async () => {
    const root = makeRepo({ 'documents/app/cfg/x.yaml': 'a: 1\n' });
    symlinkSync('app', join(root, 'documents/alias'));
    symlinkSync('..', join(root, 'documents/app/cfg/loop'));
    const { documents, lines, problems } = await collect(root);
    expect(documents.map((document) => document.key)).toEqual(['alias/cfg/x', 'app/cfg/x']);
    expect(problems.map((problem) => problem.code)).toEqual(['symlink', 'symlink']);
    expect(lines).toEqual([
      'documents/alias/cfg/loop: symbolic link cycle: it leads back to a folder that contains it',
      'documents/app/cfg/loop: symbolic link cycle: it leads back to a folder that contains it',
    ]);
  });

  it('rejects files over the size limit, saying how big and what the limit is', async () => {
    const root = makeRepo({
      'documents/web/assets/at-limit.bin': Buffer.alloc(2048),
      'documents/web/assets/over.bin': Buffer.alloc(2049),
      'documents/web/assets/huge.yaml': `a: "${'x'.repeat(3 * 1024 * 1024)}"\n`,
    });
    const { documents, problems, lines } = await collect(root, { maxFileBytes: 2048, mediaTypes: {} });
    expect(documents.map((document) => document.key)).toEqual(['web/assets/at-limit']);
    expect(problems.map((problem) => problem.code)).toEqual(['too-large', 'too-large']);
    expect(lines).toEqual([
      'documents/web/assets/huge.yaml: file is 3 MiB (3145734 bytes), over the limit of 2 KiB (2048 bytes)',
      'documents/web/assets/over.bin: file is 2 KiB (2049 bytes), over the limit of 2 KiB (2048 bytes)',
    ]);
  });

  it('reports broken links and FIFOs instead of skipping them or hanging', async () => {
    const root = makeRepo({ 'documents/app/cfg/ok.txt': 'ok\n' });
    symlinkSync('missing.txt', join(root, 'documents/app/cfg/dangling.txt'));
    execFileSync('mkfifo', [join(root, 'documents/app/cfg/pipe.txt')]);
    const { documents, problems, lines } = await collect(root);
    expect(documents.map((document) => document.key)).toEqual(['app/cfg/ok']);
    expect(problems.map((problem) => problem.code)).toEqual(['unreadable', 'unreadable']);
    expect(lines).toEqual([
      'documents/app/cfg/dangling.txt: broken symbolic link: its target does not exist',
      'documents/app/cfg/pipe.txt: not a regular file or folder',
    ]);
  });

  it('reports files that vanish or turn into something unreadable after the walk', async () => {
    // Tests run as root, where chmod 000 does not stop reads; change the files between the
    // walk (which calls accept) and the read instead.
    const root = makeRepo({
      'documents/app/cfg/gone.txt': 'soon gone\n',
      'documents/app/cfg/piped.txt': 'soon a FIFO\n',
      'documents/app/cfg/stays.txt': 'here\n',
    });
    const accept = (key: string) => {
      const path = join(root, 'documents', `${key}.txt`);
      if (key.endsWith('/gone')) rmSync(path);
      if (key.endsWith('/piped')) {
        rmSync(path);
        execFileSync('mkfifo', [path]);
      }
      return true;
    };
    const { documents, problems, lines } = await collect(root, DEFAULT_DESIRED_SETTINGS, { accept });
    expect(documents.map((document) => document.key)).toEqual(['app/cfg/stays']);
    expect(problems.map((problem) => problem.code)).toEqual(['unreadable', 'unreadable']);
    expect(lines).toEqual([
      'documents/app/cfg/gone.txt: cannot read: no such file or folder',
      'documents/app/cfg/piped.txt: not a regular file',
    ]);
  });

  it('prepares a document from bytes alone (no I/O), ready for worker threads', () => {
    const file = { key: 'app/cfg/x', domain: 'app', type: 'cfg', id: 'x', ext: 'yml', path: 'documents/app/cfg/x.yml', absolutePath: '/nonexistent' };
    const [item] = prepareDocument(file, Buffer.from('b: 2\na: 1\n'), undefined, DEFAULT_DESIRED_SETTINGS);
    expect(item).toEqual({
      document: expect.objectContaining({ key: 'app/cfg/x', path: 'documents/app/cfg/x.yml', kind: 'structured', size: 23 }),
    });
    expect('document' in item! && item.document.bytes.toString()).toBe('{\n  "a": 1,\n  "b": 2\n}\n');
    const tooBig = prepareDocument(file, Buffer.alloc(11), undefined, { maxFileBytes: 10, mediaTypes: {} });
    expect(tooBig).toEqual([{ problem: expect.objectContaining({ code: 'too-large' }) }]);
  });
});

describe('media types', () => {
  it('stores other files byte for byte with a media type from their extension', async () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
    const root = makeRepo({
      'documents/web/assets/logo.png': png,
      'documents/edge/robots/default.txt': 'User-agent: *\r\nDisallow: /x\r\n',
      'documents/edge/nginx/headers.conf': 'add_header X-A "b";\n',
      'documents/edge/misc/blob.qqq': Buffer.from([0, 1, 2]),
      'documents/edge/misc/script.sh': '#!/bin/sh\necho hi\n',
    });
    const { documents, problems } = await collect(root);
    expect(problems).toEqual([]);
    const summary = Object.fromEntries(documents.map((document) => [document.key, [document.mediaType, document.kind]]));
    expect(summary).toEqual({
      'edge/misc/blob': ['application/octet-stream', 'binary'],
      'edge/misc/script': ['application/x-sh', 'text'],
      'edge/nginx/headers': ['text/plain', 'text'],
      'edge/robots/default': ['text/plain', 'text'],
      'web/assets/logo': ['image/png', 'binary'],
    });
    const logo = documentFor(documents, 'web/assets/logo');
    expect(logo.bytes.equals(png)).toBe(true);
    expect(logo.revision).toBe(sha256Hex(png));
    expect(logo.size).toBe(png.length);
    // Text is not normalised: CRLF stays.
    expect(documentFor(documents, 'edge/robots/default').bytes.toString()).toBe('User-agent: *\r\nDisallow: /x\r\n');
  });

  it('applies overrides by extension', async () => {
    const root = makeRepo({ 'documents/edge/misc/blob.qqq': 'text really\n', 'documents/edge/misc/page.txt': 'x' });
    const { documents } = await collect(root, { maxFileBytes: 1024, mediaTypes: { qqq: 'text/x-custom', txt: 'application/x-opaque' } });
    expect(documents.map((document) => [document.key, document.mediaType, document.kind])).toEqual([
      ['edge/misc/blob', 'text/x-custom', 'text'],
      ['edge/misc/page', 'application/x-opaque', 'binary'],
    ]);
  });

  it('classifies extensions and media types', () => {
    expect(mediaTypeFor('YAML', {})).toEqual({ mediaType: 'application/json', kind: 'structured' });
    expect(mediaTypeFor('.json', { json: 'text/plain' })).toEqual({ mediaType: 'application/json', kind: 'structured' });
    expect(mediaTypeFor('svg', {})).toEqual({ mediaType: 'image/svg+xml', kind: 'text' });
    expect(mediaTypeFor('toml', {})).toEqual({ mediaType: 'application/toml', kind: 'text' });
    expect(mediaTypeFor('gz', {})).toEqual({ mediaType: 'application/gzip', kind: 'binary' });
    expect(mediaTypeFor('constructor', {})).toEqual({ mediaType: 'application/octet-stream', kind: 'binary' });
    expect(isTextMediaType('text/html; charset=utf-8')).toBe(true);
    expect(isTextMediaType('application/vnd.api+json')).toBe(true);
    expect(isTextMediaType('application/xml')).toBe(true);
    expect(isTextMediaType('application/javascript')).toBe(true);
    expect(isTextMediaType('image/png')).toBe(false);
    expect(isTextMediaType('application/octet-stream')).toBe(false);
    expect(isTextMediaType('application/pdf')).toBe(false);
  });
});
