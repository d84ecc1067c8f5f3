/**
 * The GitHub Action: plan on pull requests (job summary, sticky comment, annotations), apply on
 * push to the default branch. A thin front end over the engine the CLI uses.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as core from '@actions/core';
import packageJson from '../../package.json' with { type: 'json' };
import { withBackends, withStore } from '../backends.js';
import { githubActor } from '../util/actor.js';
import { planOptionsFrom } from '../config/plan-options.js';
import { loadSettings, type Settings } from '../config/settings.js';
import { applyPlan } from '../engine/apply.js';
import { createPlan, type PlanOptions } from '../engine/plan.js';
import { serializePlan } from '../engine/planfile.js';
import { ProblemsError, StaticsError, isStaticsError, messageOf, type Problem } from '../errors.js';
import type { ApplyReport, Plan } from '../model.js';
import { escapeMarkdown, inlineCode, outcomeDetail, renderApplyText, renderPlanMarkdown, renderPlanText } from '../render/index.js';
import { gitCommit } from '../util/git.js';
import {
  COMMENT_LIMIT,
  findSticky,
  isPermissionError,
  mergedPullRequestOf,
  writeSticky,
  type GitHubClient,
  type IssueRef,
} from './comments.js';
import { resolveTrigger, type Trigger } from './event.js';
import { SUMMARY_BYTES, byteLength, fitApplyMarkdown, fitPlanMarkdown } from './fit.js';
import { readInputs, settingFlags, type ActionInputs } from './inputs.js';
import { markerLine, type CommentTarget } from './marker.js';
import { annotate, problemsMarkdown, workspacePath } from './problems.js';

/** What the run knows about where it is, from the runner's environment. */
interface Runner {
  workspace: string;
  runnerTemp: string;
  owner: string;
  repo: string;
  sha: string | undefined;
  /** The run's page, where the job summary is shown. */
  runUrl: string | undefined;
  actor: string | undefined;
  color: boolean;
}

/** The part of a run known once the inputs are read, for reporting a failure. */
interface Scope {
  runner: Runner;
  inputs?: ActionInputs;
  repositoryDir?: string;
  summary: SummaryWriter;
}

export async function run(env: Record<string, string | undefined> = process.env): Promise<void> {
  const runner = runnerOf(env);
  const scope: Scope = { runner, summary: new SummaryWriter(Boolean(env.GITHUB_STEP_SUMMARY)) };
  try {
    const inputs = readInputs();
    scope.inputs = inputs;
    const trigger = resolveTrigger(inputs.command, env.GITHUB_EVENT_NAME, await eventPayload(env.GITHUB_EVENT_PATH), env.GITHUB_REF);
    scope.repositoryDir = path.resolve(runner.workspace, inputs.dir);
    const settings = await loadSettings(scope.repositoryDir, settingFlags(inputs), env);
    const target: CommentTarget = { dir: shownDir(runner.workspace, settings.dir), store: shownStore(settings.store, runner.workspace) };
    if (inputs.command === 'plan') await planStep(scope, inputs, settings, trigger, target);
    else await applyStep(scope, inputs, settings, target);
  } catch (error) {
    await reportFailure(error, scope);
  }
}

async function planStep(scope: Scope, inputs: ActionInputs, settings: Settings, trigger: Trigger, target: CommentTarget): Promise<void> {
  const { runner } = scope;
  const pull = trigger.kind === 'pull-request' && inputs.comment !== 'false' ? await commentContext(inputs, runner, trigger) : null;
  let plan: Plan;
  try {
    // Read-only: a pull request's plan never opens Redis and never writes.
    plan = await withStore(settings, async (store) => createPlan(store, await planOptions(settings, inputs, runner)));
  } catch (error) {
    // The plan's own error is what the step reports; a comment that cannot be written only warns.
    if (pull) await commentFailure(pull, target, error, scope).catch((failure: unknown) => core.warning(`Could not update the plan comment: ${messageOf(failure)}`));
    throw error;
  }
  await savePlan(plan, inputs, runner);
  core.info(renderPlanText(plan, { color: runner.color }));
  await scope.summary.append(fitPlanMarkdown(plan, SUMMARY_BYTES - RESERVED_BYTES, runner.runUrl));
  if (pull) await commentPlan(pull, target, plan, runner);
}

async function applyStep(scope: Scope, inputs: ActionInputs, settings: Settings, target: CommentTarget): Promise<void> {
  const { runner } = scope;
  const github = inputs.requireReviewedPlan ? await client(inputs, 'require-reviewed-plan') : null;
  // The coordinator opens before anything is planned, so a missing Redis is reported first.
  const { plan, report } = await withBackends(settings, async (store, coord) => {
    const plan = await createPlan(store, await planOptions(settings, inputs, runner));
    await savePlan(plan, inputs, runner);
    core.info(renderPlanText(plan, { color: runner.color }));
    await scope.summary.append(fitPlanMarkdown(plan, APPLY_PLAN_BYTES, runner.runUrl));
    if (github) await checkReviewed(github, plan, target, runner);
    // Non-interactive: the merge is the approval. Also with no changes: apply repairs the mirror.
    const report = await applyPlan(plan, store, coord, {
      parallelism: settings.parallelism,
      lockTimeoutMs: settings.lockTimeoutMs,
      actor: githubActor(runner.actor),
      commit: plan.source.commit,
    });
    return { plan, report };
  });
  core.setOutput('applied', report.summary.applied);
  core.setOutput('already-current', report.summary.alreadyCurrent);
  core.setOutput('stale', report.summary.stale);
  core.setOutput('failed', report.summary.failed);
  core.info(renderApplyText(report, { color: runner.color }));
  await scope.summary.append(fitApplyMarkdown(report, scope.summary.remaining(RESERVED_BYTES), 'The step log lists every result.'));
  if (!report.ok) failApply(plan, report, settings.dir, runner.workspace);
}

async function planOptions(settings: Settings, inputs: ActionInputs, runner: Runner): Promise<PlanOptions> {
  return planOptionsFrom(settings, {
    targets: inputs.targets,
    allowMassDelete: inputs.allowMassDelete,
    toolVersion: packageJson.version,
    // What is on disk; the event's commit where the directory is not a git work tree.
    commit: (await gitCommit(settings.dir)) ?? runner.sha,
  });
}

/** Saves the plan's JSON and sets the plan's outputs. */
async function savePlan(plan: Plan, inputs: ActionInputs, runner: Runner): Promise<void> {
  const file = path.resolve(runner.workspace, inputs.planFile ?? path.join(runner.runnerTemp, 'statics-plan.json'));
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, serializePlan(plan));
  core.setOutput('has-changes', changeCount(plan) > 0);
  core.setOutput('create', plan.summary.create);
  core.setOutput('update', plan.summary.update);
  core.setOutput('delete', plan.summary.delete);
  core.setOutput('unchanged', plan.summary.unchanged);
  core.setOutput('plan-id', plan.id);
  core.setOutput('plan-file', file);
}

function changeCount(plan: Plan): number {
  return plan.summary.create + plan.summary.update + plan.summary.delete;
}

// ---- the pull request comment ----

interface PullContext {
  github: GitHubClient;
  issue: IssueRef;
  fork: boolean;
  mode: ActionInputs['comment'];
}

async function commentContext(inputs: ActionInputs, runner: Runner, trigger: Extract<Trigger, { kind: 'pull-request' }>): Promise<PullContext | null> {
  if (!inputs.githubToken) {
    core.warning('No github-token: the plan is in the job summary only, not commented on the pull request.');
    return null;
  }
  return { github: await client(inputs, 'the pull request comment'), issue: { owner: runner.owner, repo: runner.repo, number: trigger.number }, fork: trigger.fork, mode: inputs.comment };
}

async function commentPlan(pull: PullContext, target: CommentTarget, plan: Plan, runner: Runner): Promise<void> {
  await guardComment(pull, async () => {
    const existing = await findSticky(pull.github, pull.issue, target);
    if (pull.mode === 'changes-only' && changeCount(plan) === 0 && !existing) {
      core.info('No changes and no earlier plan comment, so no comment (comment: changes-only).');
      return;
    }
    const head = markerLine({ ...target, planId: plan.id });
    const foot = commentFooter(target, runner.runUrl);
    // The renderer drops details, then table rows, to fit what is left of GitHub's limit.
    const markdown = renderPlanMarkdown(plan, { maxLength: COMMENT_LIMIT - head.length - foot.length - 64, ...(runner.runUrl ? { detailsUrl: runner.runUrl } : {}) });
    const written = await writeSticky(pull.github, pull.issue, existing, `${head}\n${markdown}${foot}`);
    core.setOutput('comment-url', written.url);
    core.info(`${written.created ? 'Commented' : 'Updated the plan comment'} on pull request #${pull.issue.number}: ${written.url}`);
  });
}

/** A failed plan replaces the last plan shown, so nobody reviews a plan that no longer holds. */
async function commentFailure(pull: PullContext, target: CommentTarget, error: unknown, scope: Scope): Promise<void> {
  await guardComment(pull, async () => {
    const existing = await findSticky(pull.github, pull.issue, target);
    if (!existing && pull.mode !== 'true') return;
    const dir = scope.repositoryDir ?? scope.runner.workspace;
    const body = (listed: number) => {
      const reason =
        error instanceof ProblemsError
          ? `${error.problems.length} problem${error.problems.length === 1 ? '' : 's'} in the desired documents; nothing was planned.\n\n${problemsMarkdown(error.problems, dir, scope.runner.workspace, listed)}`
          : `The plan could not be made: ${escapeMarkdown(messageOf(error).slice(0, 2000))}`;
      return `${markerLine({ ...target, planId: null })}\n### ❌ statics plan failed\n\n${reason}\n${commentFooter(target, scope.runner.runUrl)}`;
    };
    // Problem messages are short; the fallback only guards against pathological ones.
    const full = body(50);
    await writeSticky(pull.github, pull.issue, existing, full.length <= COMMENT_LIMIT ? full : body(0));
  });
}

function commentFooter(target: CommentTarget, runUrl: string | undefined): string {
  const where = `Directory ${inlineCode(target.dir)}`;
  return runUrl && SAFE_URL.test(runUrl) ? `\n<sub>${where} · full plan in the [job summary](${runUrl})</sub>\n` : `\n<sub>${where}</sub>\n`;
}

const SAFE_URL = /^https?:\/\/[A-Za-z0-9._~:/?#@!$&'*+,;=%-]+$/;

/** Commenting is for reviewers; a read-only token (a fork) costs the comment, not the run. */
async function guardComment(pull: PullContext, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (!isPermissionError(error)) throw error;
    core.warning(
      `Could not comment on pull request #${pull.issue.number}: ${messageOf(error)}. ` +
        (pull.fork
          ? 'Pull requests from forks get a read-only token; the plan is in the job summary.'
          : 'Give the job "pull-requests: write" permission; the plan is in the job summary.'),
    );
  }
}

async function client(inputs: ActionInputs, purpose: string): Promise<GitHubClient> {
  if (!inputs.githubToken) throw new StaticsError('usage', `${purpose} needs the github-token input`);
  // Loaded on demand: runs that never call GitHub do not pay for Octokit's start-up.
  const { getOctokit } = await import('@actions/github');
  return getOctokit(inputs.githubToken);
}

// ---- require-reviewed-plan ----

/** Applies only the plan reviewers last saw on the merged pull request, compared by plan identity. */
async function checkReviewed(github: GitHubClient, plan: Plan, target: CommentTarget, runner: Runner): Promise<void> {
  if (changeCount(plan) === 0) {
    core.info('require-reviewed-plan: no changes, so nothing to review.');
    return;
  }
  if (!runner.sha) throw new StaticsError('usage', 'require-reviewed-plan: GITHUB_SHA is not set');
  const refuse = (why: string) =>
    new StaticsError('stale', `require-reviewed-plan: ${why}; nothing was applied (plan ${plan.id})`);
  const number = await mergedPullRequestOf(github, runner.owner, runner.repo, runner.sha);
  if (number === null) throw refuse(`commit ${runner.sha} comes from no merged pull request`);
  const sticky = await findSticky(github, { owner: runner.owner, repo: runner.repo, number }, target);
  if (!sticky) throw refuse(`pull request #${number} shows no statics plan for directory ${target.dir} and store ${target.store}`);
  if (sticky.marker.planId === null) throw refuse(`the last plan on pull request #${number} failed`);
  if (sticky.marker.planId !== plan.id) {
    throw refuse(
      `this plan is not the one last shown on pull request #${number} (${sticky.marker.planId}): the store or the default branch changed since the review; plan again in a new pull request`,
    );
  }
  core.info(`require-reviewed-plan: plan ${plan.id} is the one shown on pull request #${number}.`);
}

// ---- failures ----

function failApply(plan: Plan, report: ApplyReport, repositoryDir: string, workspace: string): void {
  const paths = new Map(plan.entries.map((entry) => [entry.key, entry.path]));
  const bad = report.results.filter((result) => result.outcome === 'stale' || result.outcome === 'failed');
  for (const result of bad) {
    const source = paths.get(result.key);
    const file = source ? workspacePath(source, repositoryDir, workspace) : null;
    core.error(`${result.key}: ${outcomeDetail(result)}`, file ? { file } : {});
  }
  const listed = bad.slice(0, 20).map((result) => `${result.key} (${result.outcome})`).join(', ');
  const more = bad.length > 20 ? ` and ${bad.length - 20} more` : '';
  core.setFailed(
    `statics apply: ${bad.length} document${bad.length === 1 ? ' was' : 's were'} not applied (${report.summary.stale} stale, ${report.summary.failed} failed): ${listed}${more}. Re-running apply converges; stale documents need a new plan.`,
  );
}

async function reportFailure(error: unknown, scope: Scope): Promise<void> {
  const { runner } = scope;
  const dir = scope.repositoryDir ?? runner.workspace;
  const command = scope.inputs?.command ?? 'action';
  let problems: Problem[] = [];
  let message: string;
  if (error instanceof ProblemsError) {
    problems = error.problems;
    annotate(problems, dir, runner.workspace);
    message = `statics ${command}: ${problems.length} problem${problems.length === 1 ? '' : 's'} found; nothing was changed`;
  } else if (isStaticsError(error) && error.location) {
    problems = [error];
    annotate(problems, dir, runner.workspace);
    message = `statics ${command}: ${error.message}`;
  } else {
    message = `statics ${command}: ${isStaticsError(error) ? '' : 'unexpected error: '}${messageOf(error)}`;
    if (!isStaticsError(error) && error instanceof Error && error.stack) core.debug(error.stack);
  }
  let markdown = `### ❌ statics ${escapeMarkdown(command)} failed\n\n${escapeMarkdown(message)}\n`;
  if (problems.length > 0) markdown += `\n${problemsMarkdown(problems, dir, runner.workspace, 200)}\n`;
  await scope.summary.append(markdown);
  core.setFailed(message);
}

// ---- the runner's environment ----

/** The webhook payload the runner saved for this run ({} when there is none, as outside Actions). */
async function eventPayload(file: string | undefined): Promise<object> {
  if (!file) return {};
  try {
    return JSON.parse(await readFile(file, 'utf8')) as object;
  } catch (error) {
    throw new StaticsError('usage', `cannot read the event payload ${file}: ${messageOf(error)}`);
  }
}

function runnerOf(env: Record<string, string | undefined>): Runner {
  const [owner = '', repo = ''] = (env.GITHUB_REPOSITORY ?? '').split('/');
  const server = (env.GITHUB_SERVER_URL ?? 'https://github.com').replace(/\/+$/, '');
  const attempt = Number(env.GITHUB_RUN_ATTEMPT);
  const runUrl =
    env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID
      ? `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}${attempt > 1 ? `/attempts/${attempt}` : ''}`
      : undefined;
  return {
    workspace: path.resolve(env.GITHUB_WORKSPACE ?? process.cwd()),
    runnerTemp: env.RUNNER_TEMP ?? tmpdir(),
    owner,
    repo,
    sha: env.GITHUB_SHA,
    runUrl,
    actor: env.GITHUB_ACTOR,
    // Actions logs show ANSI colours; NO_COLOR still turns them off.
    color: !env.NO_COLOR,
  };
}

/** The directory as reviewers know it: relative to the workspace, `/`-separated. */
function shownDir(workspace: string, dir: string): string {
  const relative = path.relative(workspace, dir);
  if (relative.startsWith('..') || path.isAbsolute(relative)) return dir;
  return relative === '' ? '.' : relative.split(path.sep).join('/');
}

/** A file:// store inside the workspace by its relative path, so the marker is the same on any runner. */
function shownStore(store: string, workspace: string): string {
  if (!store.startsWith('file://')) return store;
  const location = store.slice('file://'.length);
  const relative = path.relative(workspace, location);
  if (relative.startsWith('..') || path.isAbsolute(relative)) return store;
  return `file://${relative.split(path.sep).join('/') || '.'}`;
}

/** Bytes kept free in the job summary for a failure report written after the plan. */
const RESERVED_BYTES = 40_000;
/** In an apply, the plan gets at most this much of the summary; the report gets the rest. */
const APPLY_PLAN_BYTES = 500_000;

/** Appends Markdown to the job summary, keeping count of its bytes against GitHub's limit. */
class SummaryWriter {
  private written = 0;
  constructor(private readonly enabled: boolean) {}

  remaining(reserve = 0): number {
    return Math.max(0, SUMMARY_BYTES - this.written - reserve);
  }

  async append(markdown: string): Promise<void> {
    if (!this.enabled || markdown === '') return;
    const text = this.written > 0 ? `\n${markdown}` : markdown;
    if (byteLength(text) > this.remaining()) {
      core.warning('The job summary is full; the rest is in the log.');
      return;
    }
    try {
      await core.summary.addRaw(text).write();
      this.written += byteLength(text);
    } catch (error) {
      core.warning(`Could not write the job summary: ${messageOf(error)}`);
    }
  }
}
