import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { applyPlan } from '../../engine/apply.js';
import { parsePlan } from '../../engine/planfile.js';
import { StaticsError } from '../../errors.js';
import type { ApplyReport, Plan } from '../../model.js';
import { renderApplyJson, renderApplyText, renderPlanText } from '../../render/index.js';
import { resolveStoreUrl, type Settings } from '../../config/settings.js';
import { gitCommit } from '../../util/git.js';
import { flag, listOption, parseCommandArgs, stringOption } from '../args.js';
import type { Command } from '../command.js';
import { confirm, progressReporter, useColor, type Io } from '../io.js';
import { actorName, failpoint, settingsFor, withBackends } from '../shared.js';
import { planOptionsFrom } from '../../config/plan-options.js';
import { PLAN_OPTIONS } from './plan.js';

export const applyCommand: Command = {
  help: `Usage: statics apply [PLANFILE | DIR] [options]

With a saved plan (statics plan --out FILE): writes exactly the reviewed content. A document
whose current revision moved since the plan is reported as stale and left alone; the others
are still applied. The plan file is the approval.

With a directory (default: the current directory): plans it, shows the plan, and asks for
'yes' on a terminal; elsewhere --auto-approve is required.

Each document is written under its own lock: lock, learn current (from Redis' record of the
last write where Redis can vouch for it, else from the store), write the revision, move current,
then mirror, broadcast and unlock in one step. Re-running apply after any failure converges.

Options:
  --auto-approve           apply without asking
  --target GLOB            only matching documents (with DIR); repeatable
  --prune                  delete documents whose file is gone (with DIR)
  --allow-mass-delete      allow deleting more than the deleteGuard share (with DIR)
  --parallelism N          documents applied at once (default 8; env STATICS_PARALLELISM)
  --lock-timeout DUR       how long to wait for a document's lock, e.g. 30s (default 30s)
  --format FORMAT          text (default) or json for the result
  --store URL              file://PATH or s3://bucket/prefix (env STATICS_STORE)
  --redis URL              redis:// or rediss:// for locks (env STATICS_REDIS_URL)
  --no-color, --debug

Exit codes: 0 everything applied or already current, 1 any error, stale or failed document.`,
  async run(argv, io, context) {
    const parsed = parseCommandArgs('apply', argv, {
      ...PLAN_OPTIONS,
      'auto-approve': { type: 'boolean' },
      parallelism: { type: 'string' },
      'lock-timeout': { type: 'string' },
      format: { type: 'string' },
    }, 1);
    const format = stringOption(parsed, 'format') ?? 'text';
    if (!['text', 'json'].includes(format)) throw new StaticsError('usage', `apply: --format must be text or json, not "${format}"`);
    const color = useColor(io);
    const target = path.resolve(io.cwd, parsed.positionals[0] ?? '.');
    const isPlanFile = (await stat(target).catch(() => null))?.isFile() ?? false;
    if (!isPlanFile && !(await stat(target).catch(() => null))) {
      throw new StaticsError('usage', `apply: ${parsed.positionals[0]} does not exist (give a plan file or a directory)`);
    }
    if (!isPlanFile && !flag(parsed, 'auto-approve') && !io.stdin.isTTY) {
      // Said before planning: nothing can be confirmed, so the plan would be for nothing.
      throw new StaticsError('usage', 'apply: not on a terminal, so nothing can be confirmed; pass --auto-approve, or apply a saved plan file');
    }

    let savedPlan: Plan | undefined;
    let settings: Settings;
    if (isPlanFile) {
      if (listOption(parsed, 'target').length > 0 || flag(parsed, 'prune')) {
        throw new StaticsError('usage', 'apply: --target and --prune shape a new plan; a saved plan is applied as it is');
      }
      const shown = path.relative(io.cwd, target) || target;
      savedPlan = parsePlan(await readFile(target, 'utf8'), shown);
      const planDir = (await stat(savedPlan.source.dir).catch(() => null))?.isDirectory() ? savedPlan.source.dir : io.cwd;
      settings = await settingsFor(planDir, parsed, io);
      settings = { ...settings, store: storeOfPlan(savedPlan, stringOption(parsed, 'store'), io.cwd) };
    } else {
      context.repositoryDir = target;
      settings = await settingsFor(target, parsed, io);
    }

    // One connection for plan and apply; opening the coordinator first means a missing Redis is
    // reported before anything is planned or written.
    const report = await withBackends(settings, async (store, coord) => {
      // The planner (parser, walk, media types) is loaded only to plan a directory.
      const plan =
        savedPlan ??
        (await (await import('../../engine/plan.js')).createPlan(
          store,
          planOptionsFrom(settings, {
            targets: listOption(parsed, 'target'),
            allowMassDelete: flag(parsed, 'allow-mass-delete'),
            toolVersion: context.version,
            commit: gitCommit(target),
          }),
        ));
      const changes = plan.summary.create + plan.summary.update + plan.summary.delete;
      if (!savedPlan) {
        if (format === 'text') io.stdout.write(renderPlanText(plan, { color }));
        if (changes > 0 && !flag(parsed, 'auto-approve') && !(await approved(io))) return null;
      }
      // Even with no changes: apply also repairs a mirror left behind by a crash.
      const progress = progressReporter(io, 'Applying');
      try {
        return await applyPlan(plan, store, coord, {
          parallelism: settings.parallelism,
          lockTimeoutMs: settings.lockTimeoutMs,
          actor: actorName(io),
          commit: plan.source.commit,
          onProgress: progress.update,
          checkpoint: failpoint(io),
        });
      } finally {
        progress.finish();
      }
    });
    if (report === null) {
      io.stderr.write('Apply cancelled.\n');
      return 1;
    }
    io.stdout.write(format === 'json' ? renderApplyJson(report) : renderApplyText(report, { color }));
    if (!report.ok) io.stderr.write(`statics: ${notAppliedLine(report)}\n`);
    return report.ok ? 0 : 1;
  },
};

/** What did not go through, for stderr: stdout may be a pipe or a file nobody reads. */
function notAppliedLine(report: ApplyReport): string {
  const stale = report.results.filter((r) => r.outcome === 'stale').map((r) => r.key);
  const failed = report.results.filter((r) => r.outcome === 'failed').map((r) => r.key);
  const parts: string[] = [];
  const list = (keys: string[]) => keys.slice(0, 5).join(', ') + (keys.length > 5 ? `, and ${keys.length - 5} more` : '');
  if (stale.length) parts.push(`${stale.length} stale (${list(stale)}): their current moved since the plan; plan again to review the new state`);
  if (failed.length) parts.push(`${failed.length} failed (${list(failed)}): see above; running apply again converges`);
  return parts.join('; ');
}

async function approved(io: Io): Promise<boolean> {
  if (!io.stdin.isTTY) {
    throw new StaticsError('usage', 'apply: not on a terminal, so nothing can be confirmed; pass --auto-approve, or apply a saved plan file');
  }
  return confirm(io, '\nApply these changes? Only "yes" is accepted: ');
}

/** A saved plan goes to the store it was made against; naming another one is an error. */
function storeOfPlan(plan: Plan, flagStore: string | undefined, cwd: string): string {
  if (flagStore !== undefined && resolveStoreUrl(flagStore, cwd) !== plan.store) {
    throw new StaticsError('usage', `apply: the plan was made against ${plan.store}, not ${flagStore}`);
  }
  return plan.store;
}
