/** The action's inputs (action.yml), read and checked before anything is contacted. */
import * as core from '@actions/core';
import { parsePositiveInteger, type SettingFlags } from '../config/settings.js';
import { StaticsError } from '../errors.js';

export type CommentMode = 'true' | 'changes-only' | 'false';

export interface ActionInputs {
  command: 'plan' | 'apply';
  /** As given, relative to the workspace. */
  dir: string;
  store?: string;
  redisUrl?: string;
  redisNamespace?: string;
  /** Undefined when not given, so statics.yaml decides. */
  prune?: boolean;
  targets: string[];
  allowMassDelete: boolean;
  /** Empty: `${RUNNER_TEMP}/statics-plan.json`. */
  planFile?: string;
  comment: CommentMode;
  githubToken?: string;
  parallelism?: number;
  lockTimeout?: string;
  requireReviewedPlan: boolean;
}

export function readInputs(): ActionInputs {
  const command = text('command');
  if (command !== 'plan' && command !== 'apply') {
    throw new StaticsError('usage', command ? `input "command" must be plan or apply, not "${command}"` : 'input "command" is required: plan (on pull requests) or apply (on push to the default branch)');
  }
  const comment = text('comment') ?? 'true';
  if (comment !== 'true' && comment !== 'changes-only' && comment !== 'false') {
    throw new StaticsError('usage', `input "comment" must be true, changes-only or false, not "${comment}"`);
  }
  const redisUrl = text('redis-url');
  if (redisUrl) maskUrl(redisUrl);
  const githubToken = text('github-token');
  const parallelism = text('parallelism');
  return {
    command,
    dir: text('dir') ?? '.',
    store: text('store'),
    redisUrl,
    redisNamespace: text('redis-namespace'),
    prune: bool('prune'),
    targets: core.getMultilineInput('target').map((line) => line.trim()).filter(Boolean),
    allowMassDelete: bool('allow-mass-delete') ?? false,
    planFile: text('plan-file'),
    comment,
    githubToken,
    parallelism: parallelism === undefined ? undefined : parsePositiveInteger(parallelism, 'input "parallelism"'),
    lockTimeout: text('lock-timeout'),
    requireReviewedPlan: bool('require-reviewed-plan') ?? false,
  };
}

export function settingFlags(inputs: ActionInputs): SettingFlags {
  return {
    store: inputs.store,
    redisUrl: inputs.redisUrl,
    redisNamespace: inputs.redisNamespace,
    prune: inputs.prune,
    parallelism: inputs.parallelism,
    lockTimeout: inputs.lockTimeout,
  };
}

function text(name: string): string | undefined {
  const value = core.getInput(name).trim();
  return value === '' ? undefined : value;
}

/** true/false as YAML 1.2 spells them (as core.getBooleanInput), or undefined when empty. */
function bool(name: string): boolean | undefined {
  const value = text(name);
  if (value === undefined) return undefined;
  if (['true', 'True', 'TRUE'].includes(value)) return true;
  if (['false', 'False', 'FALSE'].includes(value)) return false;
  throw new StaticsError('usage', `input "${name}" must be true or false, not "${value}"`);
}

/** A Redis URL may carry a password: keep it, and the URL, out of the log. */
function maskUrl(url: string): void {
  core.setSecret(url);
  try {
    const password = new URL(url).password;
    if (password) {
      core.setSecret(password);
      core.setSecret(decodeURIComponent(password));
    }
  } catch {
    // Not a URL; settings will say so.
  }
}
