import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { planOptionsFrom } from '../../config/plan-options.js';
import { StaticsError } from '../../errors.js';
import { gitCommit } from '../../util/git.js';
import { BACKEND_OPTIONS, flag, listOption, parseCommandArgs, stringOption } from '../args.js';
import type { Command } from '../command.js';
import { useColor } from '../io.js';
import { assertWritableFile, repositoryArgument, withListedStore } from '../shared.js';

export const PLAN_OPTIONS = {
  ...BACKEND_OPTIONS,
  target: { type: 'string', multiple: true },
  prune: { type: 'boolean' },
  'allow-mass-delete': { type: 'boolean' },
} as const;

export const planCommand: Command = {
  help: `Usage: statics plan [DIR] [options]

Compares every document under DIR (default: the current directory) with the store's current
revision and shows what apply would do. Needs read access to the store only (never Redis).

Options:
  --out FILE               also save the plan as JSON, for 'statics apply FILE'
  --format FORMAT          text (default), markdown or json
  --detailed-exitcode      exit 0 when nothing changes, 2 when something would
  --target GLOB            only documents whose key (domain/type/id), domain or domain/type
                           matches; repeatable
  --prune                  delete documents whose file is gone (also: prune: true)
  --allow-mass-delete      allow a plan deleting more than the deleteGuard share, or everything
  --store URL              file://PATH or s3://bucket/prefix (env STATICS_STORE)
  --no-color               plain text (also NO_COLOR)
  --debug                  stack traces on errors

Exit codes: 0 success (with --detailed-exitcode: no changes), 2 changes (only with
--detailed-exitcode), 1 error.`,
  async run(argv, io, context) {
    const parsed = parseCommandArgs('plan', argv, {
      ...PLAN_OPTIONS,
      out: { type: 'string' },
      format: { type: 'string' },
      'detailed-exitcode': { type: 'boolean' },
    }, 1);
    const format = stringOption(parsed, 'format') ?? 'text';
    if (!['text', 'markdown', 'json'].includes(format)) {
      throw new StaticsError('usage', `plan: --format must be text, markdown or json, not "${format}"`);
    }
    const dir = await repositoryArgument(io, parsed.positionals[0]);
    context.repositoryDir = dir;
    const out = stringOption(parsed, 'out');
    // Checked before planning: a long plan must not be lost to a typo in --out.
    if (out) await assertWritableFile(path.resolve(io.cwd, out), '--out');
    const targets = listOption(parsed, 'target');
    const plan = await withListedStore(dir, parsed, io, targets, async (store, listing, settings) => {
      // git runs while the plan is made; its answer is needed only at the end.
      const commit = gitCommit(dir);
      // Loaded while the listing's first request is out (see withListedStore).
      const { createPlan } = await import('../../engine/plan.js');
      const options = planOptionsFrom(settings, { targets, allowMassDelete: flag(parsed, 'allow-mass-delete'), toolVersion: context.version, commit });
      return createPlan(store, options, listing);
    });
    const { serializePlan } = await import('../../engine/planfile.js');
    const { renderPlanJson, renderPlanMarkdown, renderPlanText } = await import('../../render/index.js');
    if (out) await writeFile(path.resolve(io.cwd, out), serializePlan(plan));
    if (format === 'json') io.stdout.write(renderPlanJson(plan));
    else if (format === 'markdown') io.stdout.write(renderPlanMarkdown(plan));
    else io.stdout.write(renderPlanText(plan, { color: useColor(io) }));
    const changes = plan.summary.create + plan.summary.update + plan.summary.delete;
    if (out && format === 'text') {
      io.stdout.write(changes > 0 ? `\nSaved the plan to ${out}. Apply exactly this plan with: statics apply ${out}\n` : `\nSaved the plan to ${out}.\n`);
    }
    return flag(parsed, 'detailed-exitcode') && changes > 0 ? 2 : 0;
  },
};
