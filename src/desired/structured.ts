/**
 * Structured documents (.yaml, .yml, .json): parsed with the `yaml` document API so every problem
 * and every later schema violation can point at a line and column.
 */
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseAllDocuments,
  visit,
  type Alias,
  type Document,
  type Node as YamlNode,
  type Pair,
  type YAMLError,
} from 'yaml';
import type { ErrorCode, Problem } from '../errors.js';

/** What schema messages need from the parse: the tree, offsets to lines, and where aliases led. */
export interface SourceMap {
  document: Document.Parsed;
  lineCounter: LineCounter;
  /** The node each alias stands for, found once per file (yaml's own lookup re-walks the tree). */
  aliasTargets: Map<Alias, YamlNode>;
}

export type StructuredResult = { value: unknown; source: SourceMap } | { problems: Problem[] };

const utf8 = new TextDecoder('utf-8', { fatal: true });

// Collection tags of YAML 1.1 that JSON has no form for.
const UNSUPPORTED_COLLECTION_TAGS = new Map([
  ['tag:yaml.org,2002:set', '!!set'],
  ['tag:yaml.org,2002:omap', '!!omap'],
  ['tag:yaml.org,2002:pairs', '!!pairs'],
]);

/**
 * Parses one YAML or JSON file into a JSON value. Every yaml error and warning is a problem (an
 * unknown tag is a warning to yaml, an error here); so are a second document, an empty file, and
 * values JSON cannot hold.
 */
export function parseStructured(
  raw: Uint8Array,
  file: string,
  options: { code?: ErrorCode; json?: boolean } = {},
): StructuredResult {
  const code = options.code ?? 'parse';
  let text: string;
  try {
    text = utf8.decode(raw); // also drops a leading BOM
  } catch {
    return { problems: [{ code, message: 'not valid UTF-8', location: { file } }] };
  }
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, {
    lineCounter,
    uniqueKeys: true,
    prettyErrors: false,
    // Integers come as bigint so ones beyond 2^53 are caught instead of silently rounded.
    intAsBigInt: true,
    merge: true,
  });
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, col };
  };
  const problems: Problem[] = [];
  const report = (error: YAMLError) => {
    problems.push({ code, message: yamlMessage(error, text), location: at(error.pos[0]) });
  };
  if (!Array.isArray(documents) || documents.length === 0) {
    // An empty stream: nothing but whitespace or comments (or a stream-level error).
    const stream = documents as { errors?: YAMLError[]; warnings?: YAMLError[] };
    for (const error of [...(stream.errors ?? []), ...(stream.warnings ?? [])]) report(error);
    if (problems.length === 0) problems.push({ code, message: 'empty document', location: { file } });
    return { problems: sortProblems(problems) };
  }
  for (const document of documents) {
    for (const error of document.errors) report(error);
    for (const error of document.warnings) report(error);
  }
  if (documents.length > 1) {
    const second = documents[1]!;
    problems.push({
      code,
      message: 'a file holds exactly one YAML document; a second one starts here',
      location: at(second.range[0]),
    });
  }
  if (problems.length > 0) return { problems: sortProblems(dedupe(problems)) };

  const document = documents[0]!;
  if (options.json) {
    // YAML accepts more than JSON (comments, trailing commas); a .json file must be JSON.
    const notJson = strictJsonProblem(text, file, code, at);
    if (notJson) return { problems: [notJson] };
  }
  const contents = document.contents;
  if (contents === null || (isScalar(contents) && contents.value === null && isEmptyRange(contents.range))) {
    return { problems: [{ code, message: 'empty document', location: { file } }] };
  }
  const aliasTargets = text.includes('*') ? findAliasTargets(document) : new Map<Alias, YamlNode>();
  const converter = new JsonConverter(document, aliasTargets, text.length, code, at);
  const value = converter.convert(contents);
  if (converter.problems.length > 0) return { problems: sortProblems(dedupe(converter.problems)) };
  return { value, source: { document, lineCounter, aliasTargets } };
}

/** An alias stands for the last node before it (in document order) carrying its anchor. */
function findAliasTargets(document: Document.Parsed): Map<Alias, YamlNode> {
  const targets = new Map<Alias, YamlNode>();
  const anchors = new Map<string, YamlNode>();
  visit(document, {
    Node(_key, node) {
      if (isAlias(node)) {
        const target = anchors.get(node.source);
        if (target) targets.set(node, target);
      } else if (node.anchor) {
        anchors.set(node.anchor, node);
      }
    },
  });
  return targets;
}

function strictJsonProblem(text: string, file: string, code: ErrorCode, at: Locate): Problem | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch (error) {
    const raw = error instanceof Error ? error.message : String(error);
    // V8 appends the whole input to some messages; keep the first clause only.
    const message = raw.replace(/, ".*" is not valid JSON$/s, '').replace(/ in JSON at position \d+.*$/s, '');
    const position = /at position (\d+)/.exec(raw);
    return { code, message: `not valid JSON: ${message}`, location: position ? at(Number(position[1])) : { file } };
  }
}

function isEmptyRange(range: readonly number[] | null | undefined): boolean {
  return !range || range[0] === range[1];
}

function yamlMessage(error: YAMLError, text: string): string {
  switch (error.code) {
    case 'DUPLICATE_KEY': {
      const written = keyWrittenAt(text, error.pos[0]);
      return written ? `duplicate key ${written}` : 'duplicate key';
    }
    case 'TAG_RESOLVE_FAILED': {
      const tag = /tag: (\S+)/.exec(error.message)?.[1];
      return tag ? `unknown tag ${tag}` : error.message;
    }
    default:
      return error.message;
  }
}

// yaml marks only the first character of a duplicate key; read the key as written from there.
const QUOTED_KEY = /"(?:[^"\\\n]|\\.)*"|'(?:[^'\n]|'')*'/y;
const PLAIN_KEY = /[^\n#]*?(?=\s*:(?:\s|$)|\s*$)/my;

function keyWrittenAt(text: string, offset: number): string | undefined {
  for (const pattern of [QUOTED_KEY, PLAIN_KEY]) {
    pattern.lastIndex = offset;
    const match = pattern.exec(text);
    if (!match || match[0].trim() === '') continue;
    const written = match[0].trim();
    if (written.length > 80) return undefined;
    return pattern === QUOTED_KEY ? written : JSON.stringify(written);
  }
  return undefined;
}

/** The JSON object key a YAML key node stands for, or a reason it has none. */
export function jsonKeyOf(node: unknown, resolveAlias: (alias: Alias) => YamlNode | undefined): { key: string } | { error: string } {
  let target = node;
  if (isAlias(target)) target = resolveAlias(target);
  if (!isScalar(target)) {
    return { error: target === null || target === undefined ? 'a map key must not be empty' : 'a map key must be a string, not a collection' };
  }
  const value = target.value;
  if (typeof value === 'string') return { key: value };
  if (typeof value === 'bigint' || typeof value === 'boolean') return { key: String(value) };
  if (typeof value === 'number') {
    return Number.isFinite(value) ? { key: String(value) } : { error: `the map key ${String(value)} cannot be a JSON key` };
  }
  if (value === null) return { error: 'a null map key cannot be a JSON key' };
  return { error: 'this map key cannot be a JSON key' };
}

/** A merge key (`<<: *defaults`), recognised as yaml resolves it when `merge` is on. */
export function isMergeKey(node: unknown): boolean {
  return isScalar(node) && typeof node.value === 'symbol';
}

/** Sets a property even when it is named `__proto__`, which plain assignment would not. */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

type Locate = (offset: number) => { file: string; line: number; col: number };

/** Walks the yaml tree (not `toJS`, which stringifies odd keys with a process warning) to a JSON value. */
class JsonConverter {
  readonly problems: Problem[] = [];
  private readonly inProgress = new Set<YamlNode>();
  private nodesLeft: number;

  constructor(
    private readonly document: Document.Parsed,
    private readonly aliasTargets: Map<Alias, YamlNode>,
    sourceLength: number,
    private readonly code: ErrorCode,
    private readonly at: Locate,
  ) {
    // Without aliases a tree never has more nodes than source characters; this bounds alias bombs.
    this.nodesLeft = 10 * sourceLength + 10_000;
  }

  convert(node: unknown): unknown {
    if (node === null || node === undefined) return null; // `key:` with nothing after it
    if (--this.nodesLeft < 0) {
      if (this.nodesLeft === -1) this.fail(this.document.contents, 'aliases expand to too many values');
      return null;
    }
    if (isAlias(node)) return this.convertAlias(node);
    const yamlNode = node as YamlNode;
    if (isScalar(node)) return this.convertScalar(node);
    const unsupported = yamlNode.tag ? UNSUPPORTED_COLLECTION_TAGS.get(yamlNode.tag) : undefined;
    if (unsupported) {
      this.fail(yamlNode, `${unsupported} cannot be represented in JSON`);
      return null;
    }
    if (isSeq(node)) {
      this.inProgress.add(yamlNode);
      const result = node.items.map((item) => this.convert(item));
      this.inProgress.delete(yamlNode);
      return result;
    }
    if (isMap(node)) {
      this.inProgress.add(yamlNode);
      const result = this.convertMap(node.items as Pair[], yamlNode);
      this.inProgress.delete(yamlNode);
      return result;
    }
    this.fail(yamlNode, 'this value cannot be represented in JSON');
    return null;
  }

  private convertAlias(alias: Alias): unknown {
    const target = this.aliasTargets.get(alias);
    if (!target) {
      this.fail(alias, `unknown alias *${alias.source}`);
      return null;
    }
    if (this.inProgress.has(target)) {
      this.fail(alias, `alias *${alias.source} refers to a value that contains it`);
      return null;
    }
    return this.convert(target);
  }

  private convertScalar(node: YamlNode & { value: unknown }): unknown {
    const value = node.value;
    if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
    if (typeof value === 'bigint') {
      const asNumber = Number(value);
      if (Number.isSafeInteger(asNumber)) return asNumber;
      this.fail(node, `the integer ${value} is too large to keep exactly; quote it to keep it as a string`);
      return null;
    }
    if (typeof value === 'number') {
      if (Number.isFinite(value)) return value;
      this.fail(node, `${String(value)} cannot be represented in JSON`);
      return null;
    }
    if (value instanceof Date) {
      this.fail(node, 'a timestamp cannot be represented in JSON; quote it');
      return null;
    }
    if (value instanceof Uint8Array) {
      this.fail(node, 'binary data cannot be represented in JSON; use a base64 string');
      return null;
    }
    this.fail(node, 'this value cannot be represented in JSON');
    return null;
  }

  private convertMap(pairs: Pair[], mapNode: YamlNode): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    const seenKeys = new Set<string>();
    const merges: unknown[] = [];
    for (const pair of pairs) {
      if (isMergeKey(pair.key)) {
        merges.push(pair.value);
        continue;
      }
      const key = jsonKeyOf(pair.key, (alias) => this.aliasTargets.get(alias));
      if ('error' in key) {
        this.fail((pair.key as YamlNode | null) ?? mapNode, key.error);
        continue;
      }
      // yaml checks uniqueness of keys as written; `1` and `"1"` only collide once stringified.
      if (seenKeys.has(key.key)) {
        this.fail((pair.key as YamlNode | null) ?? mapNode, `duplicate key ${JSON.stringify(key.key)}`);
        continue;
      }
      seenKeys.add(key.key);
      setOwn(result, key.key, this.convert(pair.value));
    }
    // Explicit keys win over merged ones; earlier merge sources win over later ones.
    for (const mergeValue of merges) {
      const sources = isSeq(mergeValue) ? mergeValue.items : [mergeValue];
      for (const source of sources) {
        const merged = this.convert(source);
        if (merged === null || typeof merged !== 'object' || Array.isArray(merged)) {
          this.fail((source as YamlNode | null) ?? mapNode, 'a merge (<<) source must be a map');
          continue;
        }
        for (const [key, value] of Object.entries(merged)) {
          if (!Object.prototype.hasOwnProperty.call(result, key)) setOwn(result, key, value);
        }
      }
    }
    return result;
  }

  private fail(node: unknown, message: string): void {
    const range = (node as YamlNode | null)?.range;
    const location = range ? this.at(range[0]) : { file: this.at(0).file };
    this.problems.push({ code: this.code, message, location });
  }
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((problem) => {
    const id = `${problem.location?.line}:${problem.location?.col}:${problem.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** By file, then line, then column; problems without a line first. */
export function sortProblems(problems: Problem[]): Problem[] {
  return problems.sort((a, b) => {
    const fileA = a.location?.file ?? '';
    const fileB = b.location?.file ?? '';
    if (fileA !== fileB) return fileA < fileB ? -1 : 1;
    const lineDiff = (a.location?.line ?? 0) - (b.location?.line ?? 0);
    if (lineDiff !== 0) return lineDiff;
    return (a.location?.col ?? 0) - (b.location?.col ?? 0);
  });
}
