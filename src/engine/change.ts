/** The change of one document, in the form that fits its kind. */
import { createTwoFilesPatch } from 'diff';
import fastJsonPatch from 'fast-json-patch';
import type { BlobSummary, Change, DocumentKind, PatchOperation } from '../model.js';

const { compare, getValueByPointer } = fastJsonPatch;

export interface Side {
  bytes: Buffer | null;
  kind: DocumentKind;
  summary: BlobSummary | null;
}

export function describeChange(before: Side | null, after: Side | null): Change {
  const kinds = new Set([before?.kind, after?.kind].filter(Boolean));
  if (kinds.size === 1 && kinds.has('structured')) {
    const oldValue = before?.bytes ? JSON.parse(before.bytes.toString('utf8')) : undefined;
    const newValue = after?.bytes ? JSON.parse(after.bytes.toString('utf8')) : undefined;
    return { kind: 'json-patch', patch: jsonPatch(oldValue, newValue) };
  }
  const textual = [before, after].every((side) => !side || (side.kind !== 'binary' && side.bytes && isUtf8(side.bytes)));
  if (textual) {
    const oldText = before?.bytes?.toString('utf8') ?? '';
    const newText = after?.bytes?.toString('utf8') ?? '';
    const diff = createTwoFilesPatch('current', 'desired', oldText, newText, undefined, undefined, { context: 3 });
    let added = 0;
    let removed = 0;
    const lines = diff.split('\n');
    // Count from the first hunk: the header's `+++ desired` is not an added line.
    for (const line of lines.slice(Math.max(0, lines.findIndex((l) => l.startsWith('@@'))))) {
      if (line.startsWith('+')) added++;
      else if (line.startsWith('-')) removed++;
    }
    return { kind: 'text', diff, added, removed };
  }
  return { kind: 'binary', before: before?.summary ?? null, after: after?.summary ?? null };
}

/**
 * RFC 6902 operations from old to new. `replace` and `remove` also carry `oldValue` (a member
 * RFC 6902 tells appliers to ignore) so reviewers see old → new.
 */
function jsonPatch(oldValue: unknown, newValue: unknown): PatchOperation[] {
  const isObject = (value: unknown) => typeof value === 'object' && value !== null;
  if (oldValue === undefined) {
    if (isObject(newValue) && !Array.isArray(newValue)) return compare({}, newValue as object);
    return [{ op: 'add', path: '', value: newValue }];
  }
  if (newValue === undefined) return [{ op: 'remove', path: '', oldValue } ];
  if (!isObject(oldValue) || !isObject(newValue) || Array.isArray(oldValue) !== Array.isArray(newValue)) {
    return [{ op: 'replace', path: '', value: newValue, oldValue } ];
  }
  return compare(oldValue as object, newValue as object).map((operation) => {
    if (operation.op === 'replace' || operation.op === 'remove') {
      return { ...operation, oldValue: getValueByPointer(oldValue, operation.path) };
    }
    return operation;
  });
}

function isUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}
