/**
 * The repository's JSON Schemas (2020-12): `schemas/<type>.schema.json` for a type in any domain,
 * `schemas/<domain>/<type>.schema.json` for one domain (it wins). All are added to one Ajv so
 * they can `$ref` each other by `$id` (or by file name when they have none); each is compiled
 * only when first needed, once.
 */
import { lstat, readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { ValidateFunction } from 'ajv';
import type { Node as YamlNode } from 'yaml';
import { StaticsError, messageOf, type Problem } from '../errors.js';
import { isValidName } from '../keys.js';
import { parseStructured, sortProblems, type SourceMap } from '../desired/structured.js';
import { isInside, listDirectory, NAME_RULE, problemAt, systemMessage, type FoundFile } from '../desired/walk.js';
import { findKeyword, locate, locationOf, pointerSegments } from './locate.js';
import { errorsToProblems } from './report.js';
import { digestSchemaFiles, type CheckedSchemaSets } from '../desired/cache.js';

export interface SchemaSet {
  /**
   * The compiled validator for documents of this domain/type, or undefined when no schema exists.
   * Throws a StaticsError (code 'schema-file') when the schema that applies is broken: a document
   * must never pass unvalidated because its schema could not be used.
   */
  validatorFor(domain: string, type: string): ValidateFunction | undefined;
  /** Relative path of the schema used, for messages. */
  schemaPathFor(domain: string, type: string): string | undefined;
  /**
   * Compiles the schema for domain/type now (cached) and returns what went wrong compiling it;
   * empty when it compiled, when there is none, or when it was already reported by loadSchemas.
   */
  compileProblems(domain: string, type: string): Problem[];
  /** sha256 over every schema file's path and bytes: equal digests, equal validation. */
  readonly digest: string;
}

const SCHEMA_SUFFIX = '.schema.json';
const SCHEMA_LAYOUT = 'schemas live at schemas/<type>.schema.json or schemas/<domain>/<type>.schema.json';
const META_SCHEMA_2020 = /^https?:\/\/json-schema\.org\/draft\/2020-12\/schema#?$/;

interface SchemaEntry {
  path: string;
  source?: SourceMap;
  /** The file's bytes, kept where it was trusted without a source map (parsed again for a problem's position). */
  bytes?: Uint8Array;
  /** Set when the file could not be parsed or added; loadSchemas reported why. */
  brokenAtLoad: boolean;
  compiled?: { validate: ValidateFunction } | { problems: Problem[] };
}

export interface LoadSchemasOptions {
  /** Sets known to load without a problem: one of them is added without being checked again. */
  checked?: CheckedSchemaSets | undefined;
}

export async function loadSchemas(root: string, options: LoadSchemasOptions = {}): Promise<{ schemas: SchemaSet; problems: Problem[] }> {
  const warnings: string[] = [];
  const collect = (...args: unknown[]) => void warnings.push(args.map(String).join(' '));
  const ajv = new Ajv2020.default({
    allErrors: true,
    // Unknown keywords and formats are mistakes in a user's schema, not something to ignore; the
    // type and tuple checks would reject ordinary valid schemas.
    strict: false,
    strictSchema: true,
    strictNumbers: true,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    // Never print: what ajv would log becomes a problem of the schema being handled.
    logger: { log: () => {}, warn: collect, error: collect },
  });
  addFormats.default(ajv);
  const takeWarnings = (path: string): Problem[] =>
    warnings.splice(0).map((warning) => problemAt('schema-file', path, `invalid schema: ${warning}`));

  const problems: Problem[] = [];
  const byType = new Map<string, SchemaEntry>();
  const byDomainType = new Map<string, SchemaEntry>();
  const files = await findSchemaFiles(root, problems);
  const contents = await Promise.all(
    files.map((file) =>
      readFile(file.absolutePath).then(
        (bytes) => ({ file, bytes }),
        (error: unknown) => ({ file, error }),
      ),
    ),
  );
  const digest = digestSchemaFiles(contents.map((item) => ({ path: item.file.path, bytes: 'bytes' in item ? item.bytes : null })));
  const trusted = problems.length === 0 && contents.every((item) => 'bytes' in item) && ((await options.checked?.has(digest)) ?? false);
  // Every schema is added before any is compiled, so $ref can reach any of them.
  for (const item of contents) {
    const { file } = item;
    const entry: SchemaEntry = { path: file.path, brokenAtLoad: true };
    if (file.domain === undefined) byType.set(file.type, entry);
    else byDomainType.set(`${file.domain}/${file.type}`, entry);
    if ('error' in item) {
      problems.push(problemAt('schema-file', file.path, `cannot read: ${systemMessage(item.error)}`));
      continue;
    }
    if (trusted) {
      // These exact bytes loaded without a problem before: no positions, no meta-schema check.
      entry.bytes = item.bytes;
      try {
        ajv.addSchema(JSON.parse(Buffer.from(item.bytes).toString('utf8')) as object, file.path, undefined, false);
      } catch (error) {
        problems.push(problemAt('schema-file', file.path, `invalid schema: ${messageOf(error)}`));
        continue;
      }
      const logged = takeWarnings(file.path);
      problems.push(...logged);
      entry.brokenAtLoad = logged.length > 0;
      continue;
    }
    const parsed = parseStructured(item.bytes, file.path, { code: 'schema-file', json: true });
    if ('problems' in parsed) {
      problems.push(...parsed.problems);
      continue;
    }
    entry.source = parsed.source;
    const added = [...addSchema(ajv, parsed.value, parsed.source, file.path), ...takeWarnings(file.path)];
    problems.push(...added);
    entry.brokenAtLoad = added.length > 0;
  }

  const compile = (entry: SchemaEntry): { validate: ValidateFunction } | { problems: Problem[] } => {
    if (entry.compiled) return entry.compiled;
    try {
      const validate = ajv.getSchema(entry.path);
      if (!validate) throw new Error('schema not found after adding it');
      const logged = takeWarnings(entry.path);
      entry.compiled = logged.length > 0 ? { problems: logged } : { validate };
    } catch (error) {
      warnings.length = 0;
      if (!entry.source && entry.bytes) {
        const parsed = parseStructured(entry.bytes, entry.path, { code: 'schema-file', json: true });
        if ('source' in parsed) entry.source = parsed.source;
      }
      entry.compiled = { problems: [compileProblem(error, entry)] };
    }
    return entry.compiled;
  };
  const entryFor = (domain: string, type: string) => byDomainType.get(`${domain}/${type}`) ?? byType.get(type);

  if (!trusted && problems.length === 0) await options.checked?.add(digest);
  const schemas: SchemaSet = {
    digest,
    validatorFor(domain, type) {
      const entry = entryFor(domain, type);
      if (!entry) return undefined;
      const compiled = entry.brokenAtLoad ? undefined : compile(entry);
      if (compiled && 'validate' in compiled) return compiled.validate;
      throw new StaticsError('schema-file', `${entry.path} has errors`, { file: entry.path });
    },
    schemaPathFor(domain, type) {
      return entryFor(domain, type)?.path;
    },
    compileProblems(domain, type) {
      const entry = entryFor(domain, type);
      if (!entry || entry.brokenAtLoad) return [];
      const compiled = compile(entry);
      return 'problems' in compiled ? compiled.problems : [];
    },
  };
  return { schemas, problems: sortProblems(problems) };
}

/** Checks a schema against the 2020-12 meta-schema (with positions) and adds it; its problems. */
function addSchema(ajv: InstanceType<typeof Ajv2020.default>, value: unknown, source: SourceMap, path: string): Problem[] {
  if (typeof value !== 'boolean' && (value === null || typeof value !== 'object' || Array.isArray(value))) {
    return [problemAt('schema-file', path, 'a schema must be a JSON object (or true/false)')];
  }
  const declared = typeof value === 'object' ? (value as Record<string, unknown>)['$schema'] : undefined;
  if (declared !== undefined && (typeof declared !== 'string' || !META_SCHEMA_2020.test(declared))) {
    const where = locate(source, ['$schema']);
    return [
      {
        code: 'schema-file',
        message: `unsupported $schema ${JSON.stringify(declared)}: statics uses JSON Schema 2020-12 (https://json-schema.org/draft/2020-12/schema)`,
        location: locationOf(source, where.node, path),
      },
    ];
  }
  try {
    if (!ajv.validateSchema(value)) {
      // The meta-schema's anyOf alternatives repeat one mistake several ways: keep the first of each place.
      const firstPerPlace = (ajv.errors ?? []).filter(
        (error, index, all) => all.findIndex((other) => other.instancePath === error.instancePath) === index,
      );
      return errorsToProblems(firstPerPlace, value, source, path, 'schema-file', 'invalid schema: ');
    }
    ajv.addSchema(value as object, path, undefined, false); // already checked just above
  } catch (error) {
    return [problemAt('schema-file', path, `invalid schema: ${messageOf(error)}`)];
  }
  return [];
}

/** A compile error, placed on the keyword or reference it is about when that can be found. */
function compileProblem(error: unknown, entry: SchemaEntry): Problem {
  const text = messageOf(error);
  const source = entry.source;
  let message = `invalid schema: ${text}`;
  let keyNode: YamlNode | null = null;
  const unknownKeyword = /unknown keyword: "([^"]+)"/.exec(text);
  const unknownFormat = /unknown format "([^"]+)" ignored in schema at path "#([^"]*)"/.exec(text);
  const missingRef = /can't resolve reference (\S+)/.exec(text);
  if (unknownKeyword) {
    message = `unknown keyword "${unknownKeyword[1]}" (not part of JSON Schema 2020-12 or a supported vocabulary)`;
    if (source) keyNode = (findKeyword(source, unknownKeyword[1]!)?.key as YamlNode | undefined) ?? null;
  } else if (unknownFormat) {
    message = `unknown format "${unknownFormat[1]}"`;
    if (source) {
      const found = locate(source, [...pointerSegments(safeDecode(unknownFormat[2]!)), 'format']);
      keyNode = found.exact ? found.keyNode : found.node;
    }
  } else if (missingRef) {
    message = `cannot resolve $ref "${missingRef[1]}"`;
    if (source) keyNode = (findKeyword(source, '$ref', missingRef[1])?.key as YamlNode | undefined) ?? null;
  }
  return { code: 'schema-file', message, location: source ? locationOf(source, keyNode, entry.path) : { file: entry.path } };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

interface SchemaFile {
  domain?: string;
  type: string;
  path: string;
  absolutePath: string;
}

async function findSchemaFiles(root: string, problems: Problem[]): Promise<SchemaFile[]> {
  let rootReal: string;
  let schemasReal: string;
  const schemasPath = join(root, 'schemas');
  try {
    rootReal = await realpath(root);
    const info = await lstat(schemasPath);
    schemasReal = info.isSymbolicLink() ? await realpath(schemasPath) : join(rootReal, 'schemas');
  } catch (error) {
    // No schemas/ folder: nothing is validated, which is allowed.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    problems.push(problemAt('schema-file', 'schemas', `cannot read: ${systemMessage(error)}`));
    return [];
  }
  if (!isInside(rootReal, schemasReal)) {
    problems.push(problemAt('symlink', 'schemas', `symbolic link leads outside the repository (to ${schemasReal})`));
    return [];
  }
  try {
    if (!(await stat(schemasReal)).isDirectory()) {
      problems.push(problemAt('schema-file', 'schemas', 'schemas is not a folder'));
      return [];
    }
  } catch (error) {
    problems.push(problemAt('schema-file', 'schemas', `cannot read: ${systemMessage(error)}`));
    return [];
  }
  const top = await listDirectory(rootReal, schemasPath, 'schemas', schemasReal);
  if ('problem' in top) {
    problems.push(top.problem);
    return [];
  }
  const files: SchemaFile[] = [];
  for (const entry of top.entries) {
    if (entry.kind === 'problem') problems.push(entry.problem);
    else if (entry.kind === 'file') addSchemaFile(entry, undefined, files, problems);
    else if (!isValidName(entry.name)) {
      problems.push(problemAt('schema-file', entry.path, `"${entry.name}" is not a valid domain name: ${NAME_RULE}`));
    } else if (entry.realPath === schemasReal) {
      problems.push(problemAt('symlink', entry.path, 'symbolic link cycle: it leads back to a folder that contains it'));
    } else {
      const inner = await listDirectory(rootReal, entry.absolutePath, entry.path, entry.realPath);
      if ('problem' in inner) {
        problems.push(inner.problem);
        continue;
      }
      for (const child of inner.entries) {
        if (child.kind === 'problem') problems.push(child.problem);
        else if (child.kind === 'file') addSchemaFile(child, entry.name, files, problems);
        else problems.push(problemAt('schema-file', child.path, `folder too deep: ${SCHEMA_LAYOUT}`));
      }
    }
  }
  return files;
}

function addSchemaFile(entry: FoundFile, domain: string | undefined, files: SchemaFile[], problems: Problem[]): void {
  if (!entry.name.endsWith(SCHEMA_SUFFIX)) {
    problems.push(problemAt('schema-file', entry.path, `not a schema file name: ${SCHEMA_LAYOUT}`));
    return;
  }
  const type = entry.name.slice(0, -SCHEMA_SUFFIX.length);
  if (!isValidName(type)) {
    problems.push(problemAt('schema-file', entry.path, `"${type}" is not a valid type name: ${NAME_RULE}`));
    return;
  }
  files.push({ domain, type, path: entry.path, absolutePath: entry.absolutePath });
}
