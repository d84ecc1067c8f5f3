import mime from 'mime-types';
import type { DocumentKind } from '../model.js';

/** Extensions parsed and stored as canonical JSON. */
export const STRUCTURED_EXTENSIONS: ReadonlySet<string> = new Set(['yaml', 'yml', 'json']);

export const STRUCTURED_MEDIA_TYPE = 'application/json';
export const FALLBACK_MEDIA_TYPE = 'application/octet-stream';

// application/* types that are text and deserve a text diff.
const TEXTUAL_APPLICATION_TYPES: ReadonlySet<string> = new Set([
  'application/json',
  'application/xml',
  'application/yaml',
  'application/x-yaml',
  'application/javascript',
  'application/x-javascript',
  'application/ecmascript',
  'application/toml',
  'application/x-toml',
  'application/x-sh',
  'application/x-shellscript',
  'application/x-csh',
  'application/sql',
  'application/graphql',
  'application/csv',
  'application/x-ndjson',
  'application/x-httpd-php',
  'application/x-perl',
  'application/x-python',
  'application/x-tex',
  'application/x-latex',
  'application/x-www-form-urlencoded',
  'application/x-pem-file',
  'application/json5',
  'application/ld+json',
]);

/**
 * The media type and kind of a file by its extension (without the dot, any case). Structured
 * extensions always give canonical JSON; others use `overrides` (keys lowercase, no dot), then
 * mime-types, then application/octet-stream.
 */
export function mediaTypeFor(ext: string, overrides: Record<string, string>): { mediaType: string; kind: DocumentKind } {
  const normalized = ext.replace(/^\./, '').toLowerCase();
  if (STRUCTURED_EXTENSIONS.has(normalized)) return { mediaType: STRUCTURED_MEDIA_TYPE, kind: 'structured' };
  const mediaType = Object.hasOwn(overrides, normalized)
    ? overrides[normalized]!
    : mime.lookup(normalized) || FALLBACK_MEDIA_TYPE;
  return { mediaType, kind: isTextMediaType(mediaType) ? 'text' : 'binary' };
}

/** True for text/* and for structured-suffix or well-known textual application types. */
export function isTextMediaType(mediaType: string): boolean {
  const essence = mediaType.split(';', 1)[0]!.trim().toLowerCase();
  if (essence.startsWith('text/')) return true;
  if (/\+(json|xml|yaml)$/.test(essence)) return true;
  if (TEXTUAL_APPLICATION_TYPES.has(essence)) return true;
  // mime-db records a charset only for textual types.
  return mime.charset(essence) === 'UTF-8';
}
