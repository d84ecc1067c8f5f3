/** What several commands do the same way: settings, backends, the actor and the commit. */
import { hostname, userInfo } from 'node:os';
import { loadSettings, type SettingFlags, type Settings } from '../config/settings.js';
import { parsePositiveInteger } from '../config/settings.js';
import { openCoordinator, openStore } from '../backends.js';
import type { Coordinator } from '../coord/types.js';
import type { RevisionStore } from '../store/types.js';
import type { DesiredSettings } from '../desired/index.js';
import { stringOption, flag, type Parsed } from './args.js';
import type { Io } from './io.js';
import type { ApplyCheckpoint, ApplyOptions } from '../engine/apply.js';
import { StaticsError } from '../errors.js';

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

export function desiredSettings(settings: Settings): DesiredSettings {
  return { maxFileBytes: settings.maxFileBytes, mediaTypes: settings.mediaTypes };
}

/** Who applies: the CI actor where there is one, else user@host. */
export function actorName(io: Io): string {
  if (io.env.GITHUB_ACTOR) return `${io.env.GITHUB_ACTOR} (GitHub Actions)`;
  let user = io.env.USER ?? io.env.LOGNAME;
  try {
    user ??= userInfo().username;
  } catch {
    user ??= 'unknown';
  }
  return `${user}@${hostname()}`;
}

/** Opens store and coordinator, runs `work`, always closes both. */
export async function withBackends<T>(settings: Settings, work: (store: RevisionStore, coord: Coordinator) => Promise<T>): Promise<T> {
  const store = await openStore(settings);
  try {
    const coord = await openCoordinator(settings, store);
    try {
      return await work(store, coord);
    } finally {
      await coord.close();
    }
  } finally {
    await store.close();
  }
}

export async function withStore<T>(settings: Settings, work: (store: RevisionStore) => Promise<T>): Promise<T> {
  const store = await openStore(settings);
  try {
    return await work(store);
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
