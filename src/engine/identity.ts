import { createHash } from 'node:crypto';
import type { PlanEntry } from '../model.js';

/**
 * A plan's identity: sha256 over key, action, base and new revision of every change, in key
 * order. Unchanged documents do not take part, so the same changes give the same id.
 */
export function planIdentity(entries: readonly PlanEntry[]): string {
  const hash = createHash('sha256');
  for (const entry of [...entries].sort((a, b) => compareKeys(a.key, b.key))) {
    if (entry.action === 'no-op') continue;
    hash.update(`${entry.key}\t${entry.action}\t${entry.base ?? '-'}\t${entry.revision ?? '-'}\n`);
  }
  return hash.digest('hex');
}

/** Byte order of keys, the one order used everywhere (not locale-dependent). */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
