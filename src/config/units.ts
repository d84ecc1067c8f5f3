import { StaticsError } from '../errors.js';

const DURATION = /^([0-9]+)(ms|s|m)?$/;

/** `500ms`, `30s`, `2m`; a bare number is seconds. */
export function parseDuration(text: string, what: string): number {
  const match = DURATION.exec(text.trim());
  if (!match) throw new StaticsError('usage', `${what} "${text}" is not a duration such as 30s, 2m or 500ms`);
  const amount = Number(match[1]);
  const unit = match[2] ?? 's';
  return unit === 'ms' ? amount : unit === 's' ? amount * 1000 : amount * 60_000;
}

const SIZE = /^([0-9]+(?:\.[0-9]+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)?$/;
const UNITS: Record<string, number> = { B: 1, KB: 1000, KiB: 1024, MB: 1e6, MiB: 1024 ** 2, GB: 1e9, GiB: 1024 ** 3 };

export function parseSize(value: string | number, file: string): number {
  if (typeof value === 'number') return value;
  const match = SIZE.exec(value.trim());
  if (!match) throw new StaticsError('config', `maxFileSize "${value}" is not a size such as 5MiB`, { file });
  return Math.floor(Number(match[1]) * (UNITS[match[2] ?? 'B'] ?? 1));
}
