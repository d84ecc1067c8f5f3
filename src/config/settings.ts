/**
 * Settings: flags over environment over statics.yaml over defaults. The caller passes the
 * environment in, so nothing here reads process.env.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { StaticsError } from '../errors.js';
import { parseDuration, parseSize } from './units.js';

export interface Settings {
  /** Absolute path of the desired repository. */
  dir: string;
  /** `file:///abs/path` or `s3://bucket/prefix`. */
  store: string;
  redisUrl?: string;
  redisNamespace: string;
  /** A non-AWS S3 endpoint (AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL), addressed path-style. */
  s3Endpoint?: string;
  prune: boolean;
  maxFileBytes: number;
  mediaTypes: Record<string, string>;
  /** Largest share of the store's documents one plan may delete. */
  deleteGuard: number;
  parallelism: number;
  lockTimeoutMs: number;
  lockTtlMs: number;
  /** The parse cache's folder (STATICS_CACHE_DIR, else the user's cache folder); none when off. */
  cacheDir?: string;
}

/** Values given on the command line (or as action inputs); absent means "not given". */
export interface SettingFlags {
  store?: string;
  redisUrl?: string;
  redisNamespace?: string;
  prune?: boolean;
  parallelism?: number;
  lockTimeout?: string;
}

interface FileSettings {
  store?: string;
  redis?: string;
  redisNamespace?: string;
  prune?: boolean;
  maxFileSize?: number | string;
  mediaTypes?: Record<string, string>;
  deleteGuard?: number;
  parallelism?: number;
  lockTimeout?: string;
  lockTtl?: string;
}

export const DEFAULTS = {
  store: 'file://.statics',
  maxFileBytes: 5 * 1024 * 1024,
  deleteGuard: 0.5,
  parallelism: 8,
  lockTimeoutMs: 30_000,
  lockTtlMs: 30_000,
} as const;

export const SETTINGS_FILE = 'statics.yaml';

export async function loadSettings(dir: string, flags: SettingFlags, env: Record<string, string | undefined>): Promise<Settings> {
  const root = path.resolve(dir);
  const file = await readSettingsFile(root);
  const store = flags.store ?? nonEmpty(env.STATICS_STORE) ?? file.store ?? DEFAULTS.store;
  const parallelismText = flags.parallelism ?? nonEmpty(env.STATICS_PARALLELISM) ?? file.parallelism;
  const lockTimeout = flags.lockTimeout ?? nonEmpty(env.STATICS_LOCK_TIMEOUT) ?? file.lockTimeout;
  return {
    dir: root,
    store: resolveStoreUrl(store, root),
    redisUrl: flags.redisUrl ?? nonEmpty(env.STATICS_REDIS_URL) ?? file.redis,
    redisNamespace: flags.redisNamespace ?? nonEmpty(env.STATICS_REDIS_NAMESPACE) ?? file.redisNamespace ?? '',
    s3Endpoint: s3EndpointFrom(env),
    prune: flags.prune ?? parseBoolean(env.STATICS_PRUNE, 'STATICS_PRUNE') ?? file.prune ?? false,
    maxFileBytes: file.maxFileSize === undefined ? DEFAULTS.maxFileBytes : parseSize(file.maxFileSize, SETTINGS_FILE),
    mediaTypes: lowerCaseKeys(file.mediaTypes ?? {}),
    deleteGuard: file.deleteGuard ?? DEFAULTS.deleteGuard,
    parallelism: parallelismText === undefined ? DEFAULTS.parallelism : parsePositiveInteger(parallelismText, 'parallelism'),
    lockTimeoutMs: lockTimeout === undefined ? DEFAULTS.lockTimeoutMs : parseDuration(lockTimeout, 'lock timeout'),
    lockTtlMs: file.lockTtl === undefined ? DEFAULTS.lockTtlMs : parseDuration(file.lockTtl, 'lockTtl'),
    cacheDir: cacheDirFrom(env),
  };
}

/**
 * The store and its endpoint when a flag or the environment names the store: they win over
 * statics.yaml, so the store is known before that file is read (undefined when it is not).
 */
export function storeNamedOutsideFile(dir: string, flags: SettingFlags, env: Record<string, string | undefined>): Pick<Settings, 'store' | 's3Endpoint'> | undefined {
  const store = flags.store ?? nonEmpty(env.STATICS_STORE);
  if (store === undefined) return undefined;
  return { store: resolveStoreUrl(store, path.resolve(dir)), s3Endpoint: s3EndpointFrom(env) };
}

function s3EndpointFrom(env: Record<string, string | undefined>): string | undefined {
  return nonEmpty(env.AWS_ENDPOINT_URL_S3) ?? nonEmpty(env.AWS_ENDPOINT_URL);
}

/** STATICS_CACHE_DIR (`off` disables), else the platform's user cache folder, plus `statics`. */
function cacheDirFrom(env: Record<string, string | undefined>): string | undefined {
  const explicit = nonEmpty(env.STATICS_CACHE_DIR);
  if (explicit) return /^(off|none|false|0)$/i.test(explicit) ? undefined : path.resolve(explicit);
  const base = nonEmpty(env.XDG_CACHE_HOME) ?? nonEmpty(env.LOCALAPPDATA) ?? (nonEmpty(env.HOME) ? path.join(env.HOME!, '.cache') : undefined);
  return base ? path.join(base, 'statics') : undefined;
}

/** `file://` paths are relative to the repository, like Terraform's local state. */
export function resolveStoreUrl(store: string, root: string): string {
  if (store.startsWith('file://')) {
    const location = store.slice('file://'.length);
    if (!location) throw new StaticsError('config', `store "${store}" names no directory`);
    return `file://${path.resolve(root, location)}`;
  }
  if (store.startsWith('s3://')) {
    const rest = store.slice('s3://'.length);
    const bucket = rest.split('/')[0] ?? '';
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new StaticsError('config', `store "${store}": "${bucket}" is not a valid bucket name`);
    }
    return `s3://${rest.replace(/\/+$/, '')}`;
  }
  throw new StaticsError('config', `store "${store}" must start with file:// or s3://`);
}

async function readSettingsFile(root: string): Promise<FileSettings> {
  const file = path.join(root, SETTINGS_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return {};
    throw new StaticsError('config', `cannot read ${SETTINGS_FILE}: ${(error as Error).message}`, { file: SETTINGS_FILE });
  }
  // Loaded here, not above: a command that starts remote work before reading this file (see
  // storeNamedOutsideFile) should not wait for the parser and validator to load.
  const { parseSettingsFile } = await import('./settings-file.js');
  return parseSettingsFile(text) as FileSettings;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function parseBoolean(value: string | undefined, name: string): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^(true|1|yes)$/i.test(value)) return true;
  if (/^(false|0|no)$/i.test(value)) return false;
  throw new StaticsError('config', `${name} must be true or false, not "${value}"`);
}

export function parsePositiveInteger(value: string | number, name: string): number {
  const number = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(number) || number < 1 || number > 256) {
    throw new StaticsError('usage', `${name} must be a whole number from 1 to 256, not "${value}"`);
  }
  return number;
}

function lowerCaseKeys(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key.toLowerCase().replace(/^\./, ''), value]));
}
