import crypto from 'node:crypto';
import { StaticsError } from '../errors.js';

/**
 * Compares strings by Unicode code point (the order of their UTF-8 bytes). Plain `<` compares
 * UTF-16 code units, which puts U+E000..U+FFFF after astral characters.
 */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xSurrogate = x >= 0xd800 && x <= 0xdfff;
    const ySurrogate = y >= 0xd800 && y <= 0xdfff;
    // A surrogate starts an astral character, above every BMP character.
    if (xSurrogate !== ySurrogate) return xSurrogate ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * The one text form of a JSON value: object keys sorted by code point at every depth, 2-space
 * indent, a trailing newline. Equal values give equal text whatever their source looked like.
 */
export function canonicalJson(value: unknown): string {
  const parts: string[] = [];
  write(value, '', parts);
  parts.push('\n');
  return parts.join('');
}

function write(value: unknown, indent: string, out: string[]): void {
  switch (typeof value) {
    case 'string':
      out.push(JSON.stringify(value));
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'number':
      if (!Number.isFinite(value)) throw notJson(`the number ${value}`);
      out.push(JSON.stringify(value));
      return;
    case 'object':
      break;
    default:
      throw notJson(`a value of type ${typeof value}`);
  }
  if (value === null) {
    out.push('null');
    return;
  }
  const inner = indent + '  ';
  if (Array.isArray(value)) {
    if (value.length === 0) {
      out.push('[]');
      return;
    }
    out.push('[\n');
    for (let i = 0; i < value.length; i++) {
      out.push(inner);
      write(value[i], inner, out);
      out.push(i < value.length - 1 ? ',\n' : '\n');
    }
    out.push(indent, ']');
    return;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) {
    throw notJson(`an object of class ${(value as object).constructor?.name ?? 'unknown'}`);
  }
  const record = value as Record<string, unknown>;
  // Like JSON.stringify, a property holding undefined is absent.
  const keys = Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort(compareCodePoints);
  if (keys.length === 0) {
    out.push('{}');
    return;
  }
  out.push('{\n');
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    out.push(inner, JSON.stringify(key), ': ');
    write(record[key], inner, out);
    out.push(i < keys.length - 1 ? ',\n' : '\n');
  }
  out.push(indent, '}');
}

function notJson(what: string): StaticsError {
  return new StaticsError('internal', `canonicalJson: ${what} cannot be represented in JSON`);
}

const oneShotHash: typeof crypto.hash | undefined = typeof crypto.hash === 'function' ? crypto.hash : undefined;

/** Lowercase hex sha256: the revision of stored bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  // crypto.hash (Node >= 20.12) is about twice as fast as createHash for small inputs.
  if (oneShotHash) return oneShotHash('sha256', bytes, 'hex');
  return crypto.createHash('sha256').update(bytes).digest('hex');
}
