import { StaticsError } from './errors.js';

/** domain, type and id each match this; nothing that could escape a path or a Redis key. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface DocumentKey {
  domain: string;
  type: string;
  id: string;
}

export function isValidName(name: string): boolean {
  return NAME_PATTERN.test(name) && name !== '.' && name !== '..' && !name.includes('..');
}

/** `domain/type/id`, the key users type and see. */
export function formatKey(key: DocumentKey): string {
  return `${key.domain}/${key.type}/${key.id}`;
}

/** `domain:type:id`, the Redis form of a key. */
export function colonKey(key: DocumentKey): string {
  return `${key.domain}:${key.type}:${key.id}`;
}

/** Parses `domain/type/id` (or `domain:type:id`); throws a usage error naming the rule broken. */
export function parseKey(text: string): DocumentKey {
  const parts = text.includes('/') ? text.split('/') : text.split(':');
  if (parts.length !== 3) {
    throw new StaticsError('usage', `invalid document key "${text}": expected domain/type/id`);
  }
  const [domain, type, id] = parts as [string, string, string];
  for (const part of parts) {
    if (!isValidName(part)) {
      throw new StaticsError('usage', `invalid document key "${text}": "${part}" must match ${NAME_PATTERN.source}`);
    }
  }
  return { domain, type, id };
}

/** A revision is the lowercase hex sha256 of the stored bytes. */
export const REVISION_PATTERN = /^[0-9a-f]{64}$/;

export function isRevision(text: string): boolean {
  return REVISION_PATTERN.test(text);
}

export function shortRevision(revision: string | null | undefined): string {
  return revision ? revision.slice(0, 12) : '(none)';
}
