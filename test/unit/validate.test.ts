import { describe, it, expect, afterAll } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_DESIRED_SETTINGS, parseStructured, readDesired } from '../../src/desired/index.js';
import { formatProblem, type Problem } from '../../src/errors.js';
import type { DesiredDocument } from '../../src/model.js';
import { loadSchemas, validateValue, type SchemaSet } from '../../src/validate/index.js';
import { checkedSchemaSets } from '../../src/desired/cache.js';

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function makeRepo(files: Record<string, string | object>): string {
  const root = mkdtempSync(join(tmpdir(), 'statics-validate-'));
  made.push(root);
  mkdirSync(join(root, 'documents'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  }
  return root;
}

async function collect(root: string, options: { schemas?: SchemaSet } = {}) {
  const documents: DesiredDocument[] = [];
  const problems: Problem[] = [];
  for await (const item of readDesired(root, DEFAULT_DESIRED_SETTINGS, options)) {
    if ('document' in item) documents.push(item.document);
    else problems.push(item.problem);
  }
  return { documents, problems, lines: problems.map(formatProblem) };
}

const flagSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  required: ['enabled', 'owner'],
  additionalProperties: false,
  properties: {
    enabled: { type: 'boolean' },
    owner: { type: 'string' },
    rollout: {
      type: 'object',
      required: ['percent'],
      additionalProperties: false,
      properties: { percent: { type: 'number', minimum: 0, maximum: 100 }, stickiness: { enum: ['user', 'session'] } },
    },
    allowlist: { type: 'array', items: { type: 'string', pattern: '^[a-z]+$' } },
    labels: { type: 'object', additionalProperties: { type: 'string' }, propertyNames: { pattern: '^[a-z/~.]+$' } },
  },
};

describe('schema violations', () => {
  it('reports every violation at once, each at the offending value', async () => {
    const root = makeRepo({
      'schemas/flags.schema.json': flagSchema,
      'documents/shop/flags/checkout.yaml': [
        '# checkout flag', //           1
        'enabled: "yes"', //            2
        'colour: red', //               3
        'rollout:', //                  4
        '  percent: 150', //            5
        '  stickiness: always', //      6
        'allowlist:', //                7
        '  - alice', //                 8
        '  - Bob', //                   9
        'labels:', //                   10
        '  a/b: 1', //                  11
        '  m~n: ok', //                 12
        '  Upper: x', //                13
        '',
      ].join('\n'),
    });
    const { documents, lines, problems } = await collect(root);
    expect(documents).toEqual([]);
    expect(problems.every((problem) => problem.code === 'schema')).toBe(true);
    const file = 'documents/shop/flags/checkout.yaml';
    expect(lines).toEqual([
      `${file}:2:1: missing required property "owner"`,
      `${file}:2:10: enabled: must be boolean`,
      `${file}:3:1: unknown property "colour"`,
      `${file}:5:12: rollout.percent: must be <= 100`,
      `${file}:6:15: rollout.stickiness: must be one of "user", "session"`,
      `${file}:9:5: allowlist[1]: must match pattern "^[a-z]+$"`,
      `${file}:11:8: labels["a/b"]: must be string`,
      `${file}:13:3: labels: property name "Upper" must match pattern "^[a-z/~.]+$"`,
    ]);
  });

  it('points a missing nested property at its object and an unknown one at its key, in JSON too', async () => {
    const root = makeRepo({
      'schemas/flags.schema.json': flagSchema,
      'documents/shop/flags/a.json': '{\n  "enabled": true,\n  "owner": "team-a",\n  "rollout": {\n    "stickiness": "user",\n    "speed": 3\n  }\n}\n',
    });
    const { lines } = await collect(root);
    expect(lines).toEqual([
      'documents/shop/flags/a.json:4:14: rollout: missing required property "percent"',
      'documents/shop/flags/a.json:6:5: rollout: unknown property "speed"',
    ]);
  });

  it('follows aliases and merge keys to where a value is written', async () => {
    const root = makeRepo({
      'schemas/flags.schema.json': flagSchema,
      'documents/shop/flags/a.yaml': 'defaults: &d\n  percent: 500\nenabled: true\nowner: x\nrollout:\n  <<: *d\n  stickiness: user\n',
    });
    const { lines } = await collect(root);
    expect(lines).toEqual([
      'documents/shop/flags/a.yaml:1:1: unknown property "defaults"',
      'documents/shop/flags/a.yaml:2:12: rollout.percent: must be <= 100',
    ]);
  });

  it('validates a parsed value directly and sorts problems by position', () => {
    const parsed = parseStructured(Buffer.from('b: 1\na: x\n'), 'documents/d/t/x.yaml');
    if ('problems' in parsed) throw new Error('expected a value');
    const schema = { type: 'object', properties: { a: { type: 'integer' }, b: { type: 'string' } } };
    return loadSchemasFrom({ 'schemas/t.schema.json': schema }).then(({ schemas }) => {
      const validate = schemas.validatorFor('d', 't')!;
      expect(validateValue(parsed.value, parsed.source, validate, 'documents/d/t/x.yaml').map(formatProblem)).toEqual([
        'documents/d/t/x.yaml:1:4: b: must be string',
        'documents/d/t/x.yaml:2:4: a: must be integer',
      ]);
      expect(validateValue({ a: 1, b: 'ok' }, parsed.source, validate, 'x')).toEqual([]);
    });
  });

  it('leaves documents of types without a schema unvalidated', async () => {
    const root = makeRepo({ 'schemas/flags.schema.json': flagSchema, 'documents/shop/notes/a.yaml': 'anything: [1, 2]\n' });
    const { documents, problems } = await collect(root);
    expect(problems).toEqual([]);
    expect(documents.map((document) => document.key)).toEqual(['shop/notes/a']);
  });
});

async function loadSchemasFrom(files: Record<string, string | object>) {
  return loadSchemas(makeRepo(files));
}

describe('schema selection', () => {
  it('lets schemas/<domain>/<type>.schema.json win over schemas/<type>.schema.json for that domain', async () => {
    const root = makeRepo({
      'schemas/limits.schema.json': { type: 'object', required: ['generic'] },
      'schemas/payments/limits.schema.json': { type: 'object', required: ['special'] },
      'documents/payments/limits/eur.yaml': 'special: 1\n',
      'documents/search/limits/q.yaml': 'generic: 1\n',
      'documents/search/limits/bad.yaml': 'special: 1\n',
    });
    const { documents, lines } = await collect(root);
    expect(documents.map((document) => document.key)).toEqual(['payments/limits/eur', 'search/limits/q']);
    expect(lines).toEqual(['documents/search/limits/bad.yaml:1:1: missing required property "generic"']);
    const { schemas, problems } = await loadSchemas(root);
    expect(problems).toEqual([]);
    expect(schemas.schemaPathFor('payments', 'limits')).toBe('schemas/payments/limits.schema.json');
    expect(schemas.schemaPathFor('search', 'limits')).toBe('schemas/limits.schema.json');
    expect(schemas.schemaPathFor('search', 'other')).toBeUndefined();
    expect(schemas.validatorFor('search', 'other')).toBeUndefined();
  });

  it('resolves $ref between files by $id and by relative file name', async () => {
    const root = makeRepo({
      'schemas/common.schema.json': {
        $id: 'https://example.test/common.json',
        $defs: { owner: { type: 'string', pattern: '^team-' } },
      },
      'schemas/flags.schema.json': {
        type: 'object',
        properties: { owner: { $ref: 'https://example.test/common.json#/$defs/owner' } },
      },
      'schemas/shop/flags.schema.json': {
        type: 'object',
        properties: { owner: { $ref: '../common.schema.json#/$defs/owner' } },
      },
      'documents/a/flags/x.yaml': 'owner: nobody\n',
      'documents/shop/flags/y.yaml': 'owner: team-shop\n',
      'documents/shop/flags/z.yaml': 'owner: someone\n',
    });
    const { lines, documents } = await collect(root);
    expect(lines).toEqual([
      'documents/a/flags/x.yaml:1:8: owner: must match pattern "^team-"',
      'documents/shop/flags/z.yaml:1:8: owner: must match pattern "^team-"',
    ]);
    expect(documents.map((document) => document.key)).toEqual(['shop/flags/y']);
  });

  it('compiles each schema once, only when needed', async () => {
    const { schemas, problems } = await loadSchemasFrom({
      'schemas/good.schema.json': { type: 'object' },
      'schemas/odd.schema.json': { type: 'object', colour: 'red' },
    });
    // The unknown keyword only shows when the schema is compiled.
    expect(problems).toEqual([]);
    const first = schemas.validatorFor('any', 'good');
    expect(first).toBeTypeOf('function');
    expect(schemas.validatorFor('other', 'good')).toBe(first);
    expect(schemas.compileProblems('any', 'odd').map(formatProblem)).toEqual([
      'schemas/odd.schema.json:3:3: unknown keyword "colour" (not part of JSON Schema 2020-12 or a supported vocabulary)',
    ]);
    expect(() => schemas.validatorFor('any', 'odd')).toThrow(/schemas\/odd\.schema\.json has errors/);
  });
});

describe('broken schemas', () => {
  it('names the schema file, with line and column, and validates nothing against it', async () => {
    const root = makeRepo({
      'schemas/syntax.schema.json': '{\n  "type": "object",\n  "properties": {\n}\n',
      'schemas/keyword.schema.json': '{\n  "type": "object",\n  "requierd": ["a"]\n}\n',
      'schemas/meta.schema.json': '{\n  "type": "objekt"\n}\n',
      'schemas/ref.schema.json': '{\n  "properties": {\n    "a": { "$ref": "missing.schema.json" }\n  }\n}\n',
      'schemas/draft7.schema.json': '{ "$schema": "http://json-schema.org/draft-07/schema#" }',
      'schemas/notes.json': '{}',
      'documents/d/syntax/x.yaml': 'a: 1\n',
      'documents/d/keyword/x.yaml': 'a: 1\n',
      'documents/d/meta/x.yaml': 'a: 1\n',
      'documents/d/ref/x.yaml': 'a: 1\n',
      'documents/d/draft7/x.yaml': 'a: 1\n',
    });
    const { documents, problems, lines } = await collect(root);
    expect(documents).toEqual([]);
    expect(lines).toEqual([
      'schemas/draft7.schema.json:1:14: unsupported $schema "http://json-schema.org/draft-07/schema#": statics uses JSON Schema 2020-12 (https://json-schema.org/draft/2020-12/schema)',
      'schemas/meta.schema.json:2:11: invalid schema: type: must be one of "array", "boolean", "integer", "null", "number", "object", "string"',
      'schemas/notes.json: not a schema file name: schemas live at schemas/<type>.schema.json or schemas/<domain>/<type>.schema.json',
      'schemas/syntax.schema.json:5:1: Flow map must end with a }',
      'documents/d/draft7/x.yaml: not validated: schemas/draft7.schema.json has errors',
      // Compile problems come once each, when the first file of the type is parsed, before it.
      'schemas/keyword.schema.json:3:3: unknown keyword "requierd" (not part of JSON Schema 2020-12 or a supported vocabulary)',
      'documents/d/keyword/x.yaml: not validated: schemas/keyword.schema.json has errors',
      'documents/d/meta/x.yaml: not validated: schemas/meta.schema.json has errors',
      'schemas/ref.schema.json:3:12: cannot resolve $ref "missing.schema.json"',
      'documents/d/ref/x.yaml: not validated: schemas/ref.schema.json has errors',
      'documents/d/syntax/x.yaml: not validated: schemas/syntax.schema.json has errors',
    ]);
    expect(problems.filter((problem) => problem.location?.file.startsWith('schemas/')).every((problem) => problem.code === 'schema-file')).toBe(true);
    expect(problems.filter((problem) => problem.code === 'schema-file')).toHaveLength(6);
  });

  it('places unknown keywords and formats on the keyword, not on a property of the same name', async () => {
    const root = makeRepo({
      'schemas/t.schema.json': [
        '{',
        '  "type": "object",',
        '  "properties": {',
        '    "colour": { "type": "string" },',
        '    "when": { "type": "string", "format": "someday" }',
        '  },',
        '  "colour": "red"',
        '}',
      ].join('\n'),
      'schemas/u.schema.json': '{\n  "properties": {\n    "when": { "format": "someday" }\n  }\n}\n',
      'documents/d/t/x.yaml': 'a: 1\n',
      'documents/d/u/x.yaml': 'a: 1\n',
    });
    const { lines } = await collect(root);
    expect(lines.filter((line) => line.startsWith('schemas/'))).toEqual([
      'schemas/t.schema.json:7:3: unknown keyword "colour" (not part of JSON Schema 2020-12 or a supported vocabulary)',
      'schemas/u.schema.json:3:15: unknown format "someday"',
    ]);
  });

  it('rejects a second schema with the same $id', async () => {
    const { problems } = await loadSchemasFrom({
      'schemas/a.schema.json': { $id: 'https://example.test/same.json', type: 'object' },
      'schemas/b.schema.json': { $id: 'https://example.test/same.json', type: 'string' },
    });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ code: 'schema-file', location: { file: 'schemas/b.schema.json' } });
    expect(problems[0]!.message).toMatch(/same\.json/);
  });

  it('does not repeat load problems when the caller passes the schemas it loaded', async () => {
    const root = makeRepo({ 'schemas/t.schema.json': '{ nope', 'documents/d/t/x.yaml': 'a: 1\n' });
    const loaded = await loadSchemas(root);
    expect(loaded.problems.map(formatProblem)).toEqual(['schemas/t.schema.json:1:7: Flow map must end with a }']);
    const { lines } = await collect(root, { schemas: loaded.schemas });
    expect(lines).toEqual(['documents/d/t/x.yaml: not validated: schemas/t.schema.json has errors']);
  });
});

describe('the example repository', () => {
  it('reads and validates with zero problems', async () => {
    const root = fileURLToPath(new URL('../../examples/basic', import.meta.url));
    const { documents, problems } = await collect(root);
    expect(problems.map(formatProblem)).toEqual([]);
    const summary = Object.fromEntries(documents.map((document) => [document.key, document.kind]));
    expect(summary).toEqual({
      'edge/nginx/security-headers': 'text',
      'edge/robots/default': 'text',
      'payments/feature-flags/3ds-challenge-fallback': 'structured',
      'payments/feature-flags/checkout-v2': 'structured',
      'payments/limits/eur': 'structured',
      'payments/limits/usd': 'structured',
      'search/blocklist/queries': 'structured',
      'search/feature-flags/semantic-ranking': 'structured',
      'search/feature-flags/typo-tolerance': 'structured',
      'web/assets/logo': 'binary',
    });
    expect(documents.find((document) => document.key === 'web/assets/logo')!.mediaType).toBe('image/png');
    const { schemas } = await loadSchemas(root);
    expect(schemas.schemaPathFor('search', 'feature-flags')).toBe('schemas/search/feature-flags.schema.json');
    expect(schemas.schemaPathFor('payments', 'feature-flags')).toBe('schemas/feature-flags.schema.json');
  });
});

describe('schema sets checked before', () => {
  it('are remembered only when they loaded without a problem, and then trusted as they are', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'statics-checked-'));
    made.push(cacheDir);
    const checked = checkedSchemaSets(cacheDir)!;
    const good = makeRepo({ 'schemas/t.schema.json': '{\n  "type": "object",\n  "colour": "red"\n}\n' });
    const first = await loadSchemas(good, { checked });
    expect(first.problems).toEqual([]);
    expect(await checked.has(first.schemas.digest)).toBe(true);

    // Trusted the second time: loaded without positions, yet a compile problem still gets its line.
    const second = await loadSchemas(good, { checked });
    expect(second.schemas.digest).toBe(first.schemas.digest);
    expect(second.schemas.compileProblems('d', 't').map(formatProblem)).toEqual([
      'schemas/t.schema.json:3:3: unknown keyword "colour" (not part of JSON Schema 2020-12 or a supported vocabulary)',
    ]);

    // A set with a problem is never remembered, so it is reported every time.
    const bad = makeRepo({ 'schemas/t.schema.json': '{\n  "type": "objekt"\n}\n' });
    for (let run = 0; run < 2; run++) {
      const loaded = await loadSchemas(bad, { checked });
      expect(loaded.problems.map(formatProblem)).toEqual([expect.stringMatching(/^schemas\/t\.schema\.json:2:\d+: /)]);
      expect(await checked.has(loaded.schemas.digest)).toBe(false);
    }

    // What trust means: a set taken as checked is not checked again (so only a clean load may add it).
    const unchecked = await loadSchemas(bad, { checked: { has: async () => true, add: async () => {} } });
    expect(unchecked.problems).toEqual([]);
  });

  it('keep the latest sixteen, in one small file', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'statics-checked-'));
    made.push(cacheDir);
    const checked = checkedSchemaSets(cacheDir)!;
    for (let i = 0; i < 20; i++) await checked.add(`digest-${i}`);
    expect(await checked.has('digest-19')).toBe(true);
    expect(await checked.has('digest-4')).toBe(true);
    expect(await checked.has('digest-3')).toBe(false);
    expect(readdirSync(cacheDir)).toEqual(['schemas-checked.txt']);
  });
});
