/**
 * The per-document work, from raw bytes to a stored document. Pure (no I/O) so it can move to
 * worker threads.
 */
import type { Problem } from '../errors.js';
import type { DesiredDocument } from '../model.js';
import type { SchemaSet } from '../validate/schemas.js';
import { validateValue } from '../validate/report.js';
import { canonicalJson, sha256Hex } from './canonical.js';
import { mediaTypeFor } from './media.js';
import { parseStructured } from './structured.js';
import type { DesiredFile } from './walk.js';

export interface DesiredSettings {
  /** Files larger than this are errors (default 5 MiB = 5 * 1024 * 1024). */
  maxFileBytes: number;
  /** Media type overrides by extension: lowercase, without the dot, e.g. { "conf": "text/plain" }. */
  mediaTypes: Record<string, string>;
  /** Where the parse cache lives (see cache.ts); none when absent. */
  cacheDir?: string;
}

export const DEFAULT_MAX_FILE_BYTES = 5 * 1024 * 1024;

export const DEFAULT_DESIRED_SETTINGS: DesiredSettings = { maxFileBytes: DEFAULT_MAX_FILE_BYTES, mediaTypes: {} };

/** A document, or one problem; a file with problems yields only its problems. */
export type DesiredItem = { document: DesiredDocument } | { problem: Problem };

export function prepareDocument(
  file: DesiredFile,
  rawBytes: Uint8Array,
  schemas: SchemaSet | undefined,
  settings: DesiredSettings,
): DesiredItem[] {
  if (rawBytes.length > settings.maxFileBytes) return [{ problem: tooLarge(file.path, rawBytes.length, settings.maxFileBytes) }];
  const { mediaType, kind } = mediaTypeFor(file.ext, settings.mediaTypes);
  let bytes: Buffer;
  if (kind === 'structured') {
    const parsed = parseStructured(rawBytes, file.path, { json: file.ext.toLowerCase() === 'json' });
    if ('problems' in parsed) return parsed.problems.map((problem) => ({ problem }));
    if (schemas) {
      let validate;
      try {
        validate = schemas.validatorFor(file.domain, file.type);
      } catch {
        const schemaPath = schemas.schemaPathFor(file.domain, file.type) ?? 'its schema';
        return [{ problem: { code: 'schema', message: `not validated: ${schemaPath} has errors`, location: { file: file.path } } }];
      }
      if (validate) {
        const violations = validateValue(parsed.value, parsed.source, validate, file.path);
        if (violations.length > 0) return violations.map((problem) => ({ problem }));
      }
    }
    bytes = Buffer.from(canonicalJson(parsed.value), 'utf8');
  } else {
    bytes = Buffer.isBuffer(rawBytes) ? rawBytes : Buffer.from(rawBytes.buffer, rawBytes.byteOffset, rawBytes.byteLength);
  }
  const document: DesiredDocument = {
    key: file.key,
    path: file.path,
    kind,
    mediaType,
    bytes,
    revision: sha256Hex(bytes),
    size: bytes.length,
  };
  return [{ document }];
}

export function tooLarge(file: string, size: number, limit: number): Problem {
  return {
    code: 'too-large',
    message: `file is ${humanBytes(size)}, over the limit of ${humanBytes(limit)}`,
    location: { file },
  };
}

/** `512 B`, `1.5 KiB`, `5 MiB`: sizes as people read them. */
export function humanBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${bytes} B`;
  const shown = value >= 100 || Number.isInteger(value) ? value.toFixed(0) : value.toFixed(1).replace(/\.0$/, '');
  return `${shown} ${units[unit]} (${bytes} bytes)`;
}
