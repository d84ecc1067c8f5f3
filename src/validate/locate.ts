/** From a JSON Pointer into a parsed value back to the yaml node it came from. */
import { isAlias, isMap, isPair, isScalar, isSeq, type Alias, type Node as YamlNode, type Pair, type YAMLMap } from 'yaml';
import type { Location } from '../errors.js';
import { isMergeKey, jsonKeyOf, type SourceMap } from '../desired/structured.js';

export interface Located {
  /** The deepest node reached. */
  node: YamlNode | null;
  /** The key node of the last property reached, when the last step was a property. */
  keyNode: YamlNode | null;
  /** True when every segment of the pointer was found. */
  exact: boolean;
}

/** Splits a JSON Pointer (`/a/b~1c`) into its unescaped segments. */
export function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
}

export function locate(source: SourceMap, segments: readonly string[]): Located {
  let node = deref(source, source.document.contents as YamlNode | null);
  let keyNode: YamlNode | null = null;
  for (const segment of segments) {
    const next = childOf(source, node, segment);
    if (!next) return { node, keyNode, exact: false };
    node = next.value ?? next.key;
    keyNode = next.key;
  }
  return { node, keyNode, exact: true };
}

/** The key node and value node of a property or item; undefined when absent. */
export function childOf(
  source: SourceMap,
  parent: YamlNode | null,
  segment: string,
): { key: YamlNode | null; value: YamlNode | null } | undefined {
  const node = deref(source, parent);
  if (isMap(node)) {
    const pair = findPair(source, node, segment, 0);
    if (!pair) return undefined;
    return { key: (pair.key as YamlNode | null) ?? null, value: deref(source, (pair.value as YamlNode | null) ?? null) };
  }
  if (isSeq(node) && /^(0|[1-9][0-9]*)$/.test(segment)) {
    const item = node.items[Number(segment)] as YamlNode | undefined;
    if (item === undefined) return undefined;
    return { key: null, value: deref(source, item) };
  }
  return undefined;
}

function findPair(source: SourceMap, map: YAMLMap, key: string, depth: number): Pair | undefined {
  if (depth > 64) return undefined;
  const resolveAlias = (alias: Alias) => source.aliasTargets.get(alias);
  const merges: unknown[] = [];
  for (const pair of map.items) {
    if (!isPair(pair)) continue;
    if (isMergeKey(pair.key)) {
      merges.push(pair.value);
      continue;
    }
    const jsonKey = jsonKeyOf(pair.key, resolveAlias);
    if ('key' in jsonKey && jsonKey.key === key) return pair as Pair;
  }
  // Merged keys count only where no explicit key exists, as when converting.
  for (const value of merges) {
    const sources = isSeq(value) ? value.items : [value];
    for (const item of sources) {
      const merged = deref(source, item as YamlNode);
      if (!isMap(merged)) continue;
      const pair = findPair(source, merged, key, depth + 1);
      if (pair) return pair;
    }
  }
  return undefined;
}

function deref(source: SourceMap, node: YamlNode | null): YamlNode | null {
  let current = node;
  for (let hops = 0; current && isAlias(current) && hops < 64; hops++) {
    current = source.aliasTargets.get(current) ?? null;
  }
  return current;
}

/** The location of a node's start, or of the whole file when there is none. */
export function locationOf(source: SourceMap, node: YamlNode | null, file: string): Location {
  const range = node?.range;
  if (!range) return { file };
  const { line, col } = source.lineCounter.linePos(range[0]);
  return { file, line, col };
}

// Schema keywords whose object values are keyed by names (of properties or definitions), not keywords.
const NAME_KEYED_KEYWORDS: ReadonlySet<string> = new Set([
  'properties',
  'patternProperties',
  '$defs',
  'definitions',
  'dependentSchemas',
  'dependentRequired',
]);

/**
 * Depth-first search of a schema for the first keyword `key` (optionally with a given scalar
 * value), skipping property and definition names that merely look like it.
 */
export function findKeyword(source: SourceMap, key: string, value?: string): Pair | undefined {
  const visit = (node: unknown, namesHere: boolean, depth: number): Pair | undefined => {
    if (depth > 256) return undefined;
    if (isMap(node)) {
      for (const pair of node.items) {
        const name = isScalar(pair.key) ? pair.key.value : undefined;
        if (!namesHere && name === key && (value === undefined || (isScalar(pair.value) && pair.value.value === value))) {
          return pair as Pair;
        }
        const inside = visit(pair.value, !namesHere && typeof name === 'string' && NAME_KEYED_KEYWORDS.has(name), depth + 1);
        if (inside) return inside;
      }
    } else if (isSeq(node)) {
      for (const item of node.items) {
        const inside = visit(item, false, depth + 1);
        if (inside) return inside;
      }
    }
    return undefined;
  };
  return visit(source.document.contents, false, 0);
}
