import type { PlanOptions } from '../engine/plan.js';
import type { Settings } from './settings.js';

/** What a front end chooses per run; everything else comes from settings. */
export interface PlanChoices {
  targets: string[];
  allowMassDelete: boolean;
  toolVersion: string;
  commit?: string | Promise<string | undefined>;
}

/** The engine's plan options from settings: the same for the CLI and the action. */
export function planOptionsFrom(settings: Settings, choices: PlanChoices): PlanOptions {
  return {
    dir: settings.dir,
    desired: { maxFileBytes: settings.maxFileBytes, mediaTypes: settings.mediaTypes, ...(settings.cacheDir ? { cacheDir: settings.cacheDir } : {}) },
    prune: settings.prune,
    deleteGuard: settings.deleteGuard,
    ...choices,
  };
}
