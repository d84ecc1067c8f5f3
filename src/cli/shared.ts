/** What several commands do the same way: settings, backends, the actor, failpoints. */
import { access, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import path from 'node:path';
import { openStore } from '../backends.js';
import { loadSettings, parsePositiveInteger, storeNamedOutsideFile, type SettingFlags, type Settings } from '../config/settings.js';
import type { ApplyCheckpoint, ApplyOptions } from '../engine/apply.js';
import { startListing, type StartedListing } from '../engine/listing.js';
import type { RevisionStore } from '../store/types.js';
import { StaticsError } from '../errors.js';
import { actorFromEnvironment } from '../util/actor.js';
import { flag, stringOption, type Parsed } from './args.js';
import type { Io } from './io.js';

export { withBackends, withStore } from '../backends.js';

export function settingFlags(parsed: Parsed): SettingFlags {
  const parallelism = stringOption(parsed, 'parallelism');
  return {
    store: stringOption(parsed, 'store'),
    redisUrl: stringOption(parsed, 'redis'),
    redisNamespace: stringOption(parsed, 'redis-namespace'),
    prune: flag(parsed, 'prune') ? true : undefined,
    parallelism: parallelism === undefined ? undefined : parsePositiveInteger(parallelism, '--parallelism'),
    lockTimeout: stringOption(parsed, 'lock-timeout'),
  };
}

export function settingsFor(dir: string, parsed: Parsed, io: Io): Promise<Settings> {
  return loadSettings(dir, settingFlags(parsed), io.env);
}

/**
 * Opens the store a plan of `dir` reads, starts listing it, runs `work` and closes the store.
 * The listing is a plan's slow part: when a flag or the environment names the store (they win
 * over statics.yaml), its first request leaves before statics.yaml is read, and `work` loads
 * the rest of the engine while it is out.
 */
export async function withListedStore<T>(
  dir: string,
  parsed: Parsed,
  io: Io,
  targets: string[],
  work: (store: RevisionStore, listing: StartedListing, settings: Settings) => Promise<T>,
): Promise<T> {
  const flags = settingFlags(parsed);
  const named = storeNamedOutsideFile(dir, flags, io.env);
  let settings = named ? undefined : await loadSettings(dir, flags, io.env);
  const store = await openStore(named ?? settings!);
  try {
    const listing = startListing(store, { targets });
    await listing.sent;
    settings ??= await loadSettings(dir, flags, io.env);
    return await work(store, listing, settings);
  } finally {
    await store.close();
  }
}

const CHECKPOINTS: readonly ApplyCheckpoint[] = ['locked', 'revision-written', 'current-moved', 'recorded'];

/**
 * STATICS_FAILPOINT=<checkpoint>[:stop] kills (or, with :stop, pauses) this process the first
 * time apply reaches that checkpoint: how the tests prove crash safety at exact points.
 */
export function failpoint(io: Io): ApplyOptions['checkpoint'] {
  const spec = io.env.STATICS_FAILPOINT;
  if (!spec) return undefined;
  const [point, mode] = spec.split(':');
  if (!CHECKPOINTS.includes(point as ApplyCheckpoint) || (mode !== undefined && mode !== 'stop')) {
    throw new StaticsError('config', `STATICS_FAILPOINT must be one of ${CHECKPOINTS.join(', ')}, optionally with :stop`);
  }
  let fired = false;
  return (reached) => {
    if (reached !== point || fired) return;
    fired = true;
    process.kill(process.pid, mode === 'stop' ? 'SIGSTOP' : 'SIGKILL');
  };
}


/** Who applies, for the transitions a command records. */
export function actorName(io: Io): string {
  return actorFromEnvironment(io.env);
}

/** The repository directory a command was given (default: the current one); it must be a directory. */
export async function repositoryArgument(io: Io, given: string | undefined): Promise<string> {
  const dir = path.resolve(io.cwd, given ?? '.');
  const info = await stat(dir).catch(() => null);
  if (!info) throw new StaticsError('usage', `${given ?? dir} does not exist`);
  if (!info.isDirectory()) throw new StaticsError('usage', `${given ?? dir} is not a directory (give the repository holding documents/)`);
  return dir;
}

/** Fails early, in one line, when `file` could not be written (its folder missing, or not writable). */
export async function assertWritableFile(file: string, option: string): Promise<void> {
  const folder = path.dirname(file);
  try {
    await access(folder, constants.W_OK);
  } catch {
    throw new StaticsError('usage', `${option}: cannot write ${file}: ${folder} does not exist or is not writable`);
  }
}
