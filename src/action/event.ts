/** Which command fits which event, and what the event tells about the run. */
import { StaticsError } from '../errors.js';

export type Trigger =
  /** A pull request: plan, with the sticky comment. */
  | { kind: 'pull-request'; number: number; fork: boolean }
  /** A push or a manual or scheduled run: no pull request to comment on. */
  | { kind: 'branch'; ref: string | undefined; defaultBranch: string | undefined };

const FITS = 'use command: plan on pull_request and command: apply on push to the default branch';

interface Payload {
  pull_request?: { number?: number; head?: { repo?: { full_name?: string } | null }; base?: { repo?: { full_name?: string } } };
  repository?: { default_branch?: string };
  ref?: string;
}

export function resolveTrigger(command: 'plan' | 'apply', eventName: string | undefined, eventPayload: object, ref: string | undefined): Trigger {
  const event = eventName || '(none)';
  const payload = eventPayload as Payload;
  if (event === 'pull_request' || event === 'pull_request_target') {
    if (command === 'apply') {
      throw new StaticsError('usage', `command: apply does not run on ${event} events, where nothing is merged yet: ${FITS}`);
    }
    const pull = payload.pull_request;
    if (!pull || typeof pull.number !== 'number') throw new StaticsError('usage', `the ${event} event payload has no pull request number`);
    const head = pull.head?.repo?.full_name;
    const base = pull.base?.repo?.full_name;
    return { kind: 'pull-request', number: pull.number, fork: Boolean(head && base && head !== base) || pull.head?.repo === null };
  }
  if (event === 'push' || event === 'workflow_dispatch' || (command === 'plan' && (event === 'schedule' || event === 'merge_group'))) {
    const trigger: Trigger = { kind: 'branch', ref: payload.ref ?? ref, defaultBranch: payload.repository?.default_branch };
    if (command === 'apply') checkDefaultBranch(trigger, event);
    return trigger;
  }
  throw new StaticsError('usage', `statics does not run on ${event} events: ${FITS}${command === 'plan' ? ' (plan also runs on push, workflow_dispatch, schedule and merge_group, without a comment)' : ''}`);
}

/** Apply writes what the default branch says; any other branch is not the desired state. */
function checkDefaultBranch(trigger: Extract<Trigger, { kind: 'branch' }>, event: string): void {
  if (!trigger.defaultBranch) {
    throw new StaticsError('usage', `command: apply: the ${event} event payload does not name the repository's default branch`);
  }
  const expected = `refs/heads/${trigger.defaultBranch}`;
  if (trigger.ref !== expected) {
    throw new StaticsError(
      'usage',
      `command: apply runs only on the default branch (${trigger.defaultBranch}), not on ${trigger.ref ?? 'an unknown ref'}: use command: plan for other branches`,
    );
  }
}
