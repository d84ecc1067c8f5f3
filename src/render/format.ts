/** Small pure formatters shared by the text and Markdown renderings. */
import type { Operation } from 'fast-json-patch';
import type { Change, PlanSummary } from '../model.js';

/** Longest JSON value shown on one line in a terminal. */
export const TEXT_VALUE_LIMIT = 80;
/** Lines of one document's change shown before `… N more lines`. */
export const MAX_CHANGE_LINES = 200;

/**
 * Control characters, C1 controls, line/paragraph separators and bidi overrides: shown as escapes,
 * so user content cannot drive a terminal or reorder what a reviewer sees ("trojan source").
 */
const UNSAFE_CHARS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

export function sanitizeControl(text: string): string {
  return text.replace(UNSAFE_CHARS, (char) =>
    char === '\r' ? '\\r' : `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** One line of user text: control characters escaped, line breaks shown as `\n`. */
export function singleLine(text: string): string {
  return sanitizeControl(text.replace(/\r\n|\n/g, '\\n'));
}

/** Cuts to `limit` characters (code points), the last one being `…`. */
export function truncate(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const chars = Array.from(text);
  if (chars.length <= limit) return text;
  return `${chars.slice(0, Math.max(0, limit - 1)).join('')}…`;
}

/** Bytes as B, KiB, MiB, GiB (binary units, one decimal above bytes). */
export function humanSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  let text = value.toFixed(1);
  // 1023.96 KiB rounds to "1024.0"; say 1.0 MiB instead.
  if (text === '1024.0' && unit < units.length - 1) {
    text = '1.0';
    unit++;
  }
  return `${text} ${units[unit]}`;
}

/** First 12 characters of a digest followed by `…`, or `(none)`. */
export function shortDigest(digest: string | null | undefined): string {
  return digest ? `${singleLine(digest.slice(0, 12))}…` : '(none)';
}

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;
const ARRAY_INDEX = /^(0|[1-9][0-9]*)$/;

/**
 * A JSON pointer in a readable dotted form: `/rollout/percent` → `rollout.percent`,
 * `/allowlist/2` → `allowlist[2]`, `/a.b/c` → `["a.b"].c`. All-digit segments read as array indexes
 * (the pointer alone cannot tell them from object keys made of digits).
 */
export function formatPointer(pointer: string): string {
  if (pointer === '') return '(root)';
  if (!pointer.startsWith('/')) return singleLine(pointer);
  let out = '';
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (ARRAY_INDEX.test(segment) || segment === '-') out += `[${segment}]`;
    else if (PLAIN_KEY.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${sanitizeControl(JSON.stringify(segment))}]`;
  }
  return out;
}

/** A JSON value on one line, truncated with `…`. */
export function formatValue(value: unknown, limit: number): string {
  let text: string;
  try {
    text = value === undefined ? 'undefined' : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return truncate(sanitizeControl(text), limit);
}

export type LineKind = 'add' | 'remove' | 'change' | 'context' | 'hunk' | 'note';

/** One line of a rendered change; `text` carries its own sign. */
export interface ChangeLine {
  kind: LineKind;
  text: string;
}

export interface ChangeLimits {
  /** Longest JSON value on one line. */
  valueLength: number;
  /** Lines per document before `… N more lines`. */
  lines: number;
  /** Longest line of a text diff; undefined for no limit. */
  lineLength?: number;
}

/** The lines describing one change, the same for the terminal and for Markdown. */
export function changeLines(change: Change | undefined, limits: ChangeLimits): ChangeLine[] {
  if (!change) return [];
  switch (change.kind) {
    case 'json-patch':
      return capLines(patchLines(change.patch, limits.valueLength), limits.lines, 'changes');
    case 'text':
      return capLines(diffLines(change.diff, limits.lineLength), limits.lines, 'lines');
    case 'binary':
      return [{ kind: 'change', text: binaryLine(change.before, change.after) }];
  }
}

function capLines(lines: ChangeLine[], max: number, noun: string): ChangeLine[] {
  if (lines.length <= max) return lines;
  const more = lines.length - max;
  return [...lines.slice(0, max), { kind: 'note', text: `… ${more} more ${more === 1 ? noun.replace(/s$/, '') : noun}` }];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function childPointer(key: string): string {
  return `/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

/** The engine adds `oldValue` to replace and remove operations; other producers may not. */
function oldValueOf(operation: Operation): { present: boolean; value: unknown } {
  if ('oldValue' in operation) return { present: true, value: (operation as { oldValue?: unknown }).oldValue };
  return { present: false, value: undefined };
}

export function patchLines(patch: Operation[], valueLength: number): ChangeLine[] {
  const lines: ChangeLine[] = [];
  const value = (v: unknown) => formatValue(v, valueLength);
  for (const operation of patch) {
    const path = formatPointer(operation.path);
    switch (operation.op) {
      case 'add':
        // A whole new document reads better as its top-level keys.
        if (operation.path === '' && isPlainObject(operation.value) && Object.keys(operation.value).length > 0) {
          for (const [key, v] of Object.entries(operation.value)) {
            lines.push({ kind: 'add', text: `+ ${formatPointer(childPointer(key))}: ${value(v)}` });
          }
        } else {
          lines.push({ kind: 'add', text: `+ ${path}: ${value(operation.value)}` });
        }
        break;
      case 'remove': {
        const old = oldValueOf(operation);
        if (!old.present) lines.push({ kind: 'remove', text: `- ${path}` });
        else if (operation.path === '' && isPlainObject(old.value) && Object.keys(old.value).length > 0) {
          for (const [key, v] of Object.entries(old.value)) {
            lines.push({ kind: 'remove', text: `- ${formatPointer(childPointer(key))}: ${value(v)}` });
          }
        } else lines.push({ kind: 'remove', text: `- ${path}: ${value(old.value)}` });
        break;
      }
      case 'replace': {
        const old = oldValueOf(operation);
        lines.push({
          kind: 'change',
          text: old.present
            ? `~ ${path}: ${value(old.value)} → ${value(operation.value)}`
            : `~ ${path} → ${value(operation.value)}`,
        });
        break;
      }
      case 'move':
        lines.push({ kind: 'change', text: `~ ${path}: moved from ${formatPointer(operation.from)}` });
        break;
      case 'copy':
        lines.push({ kind: 'add', text: `+ ${path}: copied from ${formatPointer(operation.from)}` });
        break;
      default:
        // `test` and `_get` change nothing.
        break;
    }
  }
  return lines;
}

/** The lines of a unified diff without its file header (`Index:`, `===`, `---`, `+++`). */
export function diffLines(diff: string, lineLength?: number): ChangeLine[] {
  const all = diff.split('\n');
  if (all[all.length - 1] === '') all.pop();
  const firstHunk = all.findIndex((line) => line.startsWith('@@'));
  const body =
    firstHunk >= 0
      ? all.slice(firstHunk)
      : all.filter((line) => !/^(--- |\+\+\+ |Index: |={3,}$)/.test(line));
  return body.map((line) => {
    const text = lineLength === undefined ? sanitizeControl(line) : truncate(sanitizeControl(line), lineLength);
    if (line.startsWith('@@')) return { kind: 'hunk', text };
    if (line.startsWith('+')) return { kind: 'add', text };
    if (line.startsWith('-')) return { kind: 'remove', text };
    if (line.startsWith('\\')) return { kind: 'note', text };
    return { kind: 'context', text };
  });
}

export function binaryLine(
  before: { size: number; sha256: string } | null,
  after: { size: number; sha256: string } | null,
): string {
  const size = (side: typeof before) => (side ? humanSize(side.size) : '(none)');
  return `size ${size(before)} → ${size(after)}, sha256 ${shortDigest(before?.sha256)} → ${shortDigest(after?.sha256)}`;
}

/** `Plan: N to create, N to update, N to delete, N unchanged.` */
export function planSummaryLine(summary: PlanSummary): string {
  return `Plan: ${summary.create} to create, ${summary.update} to update, ${summary.delete} to delete, ${summary.unchanged} unchanged.`;
}

/** A note on documents the store holds without a file, which a plan without --prune keeps. */
export function unmanagedLine(summary: PlanSummary): string | undefined {
  const count = summary.unmanaged ?? 0;
  if (count === 0) return undefined;
  return `${count} ${count === 1 ? 'document in the store has' : 'documents in the store have'} no file here and ${count === 1 ? 'is' : 'are'} left alone; plan with --prune to delete ${count === 1 ? 'it' : 'them'}.`;
}

export function hasChanges(summary: PlanSummary): boolean {
  return summary.create + summary.update + summary.delete > 0;
}

/** `No changes. N documents match the store.` */
export function noChangesLine(unchanged: number): string {
  return `No changes. ${unchanged} ${unchanged === 1 ? 'document matches' : 'documents match'} the store.`;
}
