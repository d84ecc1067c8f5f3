/** Terminal renderings (Terraform-like) of plans, apply reports and histories. */
import picocolors from 'picocolors';
import { shortRevision } from '../keys.js';
import type { ApplyReport, ApplySummary, EntryResult, Plan, PlanEntry, Transition } from '../model.js';
import {
  changeLines,
  hasChanges,
  humanSize,
  MAX_CHANGE_LINES,
  noChangesLine,
  planSummaryLine,
  unmanagedLine,
  singleLine,
  TEXT_VALUE_LIMIT,
  type ChangeLine,
} from './format.js';

export interface TextOptions {
  color: boolean;
}

type Colors = ReturnType<typeof picocolors.createColors>;
type Paint = (text: string) => string;

const ENTRY_INDENT = '  ';
const CHANGE_INDENT = '      ';

const SIGNS: Record<PlanEntry['action'], string> = { create: '+', update: '~', delete: '-', 'no-op': '=' };

function actionPaint(c: Colors, action: PlanEntry['action']): Paint {
  if (action === 'create') return c.green;
  if (action === 'update') return c.yellow;
  if (action === 'delete') return c.red;
  return c.dim;
}

function linePaint(c: Colors, line: ChangeLine): Paint {
  switch (line.kind) {
    case 'add':
      return c.green;
    case 'remove':
      return c.red;
    case 'change':
      return c.yellow;
    case 'hunk':
      return c.cyan;
    case 'note':
      return c.dim;
    case 'context':
      return (text) => text;
  }
}

export function renderPlanText(plan: Plan, options: TextOptions): string {
  const c = picocolors.createColors(options.color);
  const lines = [c.bold(`Plan ${singleLine(shortRevision(plan.id))} against ${singleLine(plan.store)}`)];
  for (const entry of plan.entries) {
    if (entry.action === 'no-op') continue;
    const paint = actionPaint(c, entry.action);
    lines.push('');
    lines.push(
      ENTRY_INDENT +
        paint(`${SIGNS[entry.action]} ${entry.action} ${singleLine(entry.key)}`) +
        ` (${singleLine(entry.mediaType)}, ${humanSize(entry.size)})`,
    );
    const limits = { valueLength: TEXT_VALUE_LIMIT, lines: MAX_CHANGE_LINES };
    for (const line of changeLines(entry.change, limits)) {
      lines.push(CHANGE_INDENT + linePaint(c, line)(line.text));
    }
  }
  lines.push('');
  if (!hasChanges(plan.summary)) lines.push(noChangesLine(plan.summary.unchanged));
  lines.push(c.bold(planSummaryLine(plan.summary)));
  const unmanaged = unmanagedLine(plan.summary);
  if (unmanaged) lines.push(unmanaged);
  return `${lines.join('\n')}\n`;
}

/** `Apply: N applied, N already current, N stale, N failed.` and the repairs, when any. */
export function applySummaryLine(summary: ApplySummary): string {
  let line = `Apply: ${summary.applied} applied, ${summary.alreadyCurrent} already current, ${summary.stale} stale, ${summary.failed} failed.`;
  if (summary.repaired > 0) {
    line += ` (${summary.repaired} mirror ${summary.repaired === 1 ? 'entry' : 'entries'} repaired)`;
  }
  return line;
}

/** What happened to one entry, after its key: `applied`, `stale: current is …`, … */
export function outcomeDetail(result: EntryResult): string {
  switch (result.outcome) {
    case 'applied':
      return 'applied';
    case 'already-current':
      return 'already current';
    case 'stale': {
      const planned = `planned from ${singleLine(shortRevision(result.base))}`;
      if (result.actual === undefined) return `stale: current moved since the plan (${planned})`;
      return `stale: current is ${singleLine(shortRevision(result.actual))} (${planned})`;
    }
    case 'failed':
      return `failed: ${singleLine(result.error ?? 'unknown error')}`;
  }
}

const OUTCOME_SIGNS: Record<EntryResult['outcome'], string> = {
  applied: '✓',
  'already-current': '=',
  stale: '!',
  failed: '✗',
};

export function renderApplyText(report: ApplyReport, options: TextOptions): string {
  const c = picocolors.createColors(options.color);
  const paints: Record<EntryResult['outcome'], Paint> = {
    applied: c.green,
    'already-current': c.dim,
    stale: c.yellow,
    failed: c.red,
  };
  const lines = [c.bold(`Apply of plan ${singleLine(shortRevision(report.planId))} to ${singleLine(report.store)}`), ''];
  for (const result of report.results) {
    const paint = paints[result.outcome];
    lines.push(
      `${ENTRY_INDENT}${paint(OUTCOME_SIGNS[result.outcome])} ${result.action} ${singleLine(result.key)}: ${paint(outcomeDetail(result))}`,
    );
  }
  if (report.results.length > 0) lines.push('');
  lines.push(c.bold(applySummaryLine(report.summary)));
  return `${lines.join('\n')}\n`;
}

/** Git commits are shown as 12 hex digits, like revisions; anything else as given. */
function shortCommit(commit: string): string {
  return /^[0-9a-f]{13,}$/i.test(commit) ? commit.slice(0, 12) : singleLine(commit);
}

export function renderHistoryText(
  key: string,
  transitions: Transition[],
  currentRevision: string | null,
  options: TextOptions,
): string {
  const c = picocolors.createColors(options.color);
  const lines = [c.bold(`History of ${singleLine(key)} (current: ${singleLine(shortRevision(currentRevision))})`)];
  if (transitions.length === 0) {
    lines.push('', 'No transitions recorded.');
    return `${lines.join('\n')}\n`;
  }
  lines.push('');
  // The newest transition to the current revision is the one in effect.
  const currentIndex =
    currentRevision === null ? -1 : transitions.findIndex((transition) => transition.revision === currentRevision);
  const actionWidth = Math.max(...transitions.map((transition) => transition.action.length));
  transitions.forEach((transition, index) => {
    const isCurrent = index === currentIndex;
    const move = `${singleLine(shortRevision(transition.previous))} → ${singleLine(shortRevision(transition.revision))}`;
    let line = `${isCurrent ? c.green('*') : ' '} ${c.dim(singleLine(transition.at))}  ${transition.action.padEnd(actionWidth)}  ${move}`;
    if (transition.commit) line += `  commit ${shortCommit(transition.commit)}`;
    if (transition.actor) line += `  by ${singleLine(transition.actor)}`;
    if (isCurrent) line += `  ${c.green('(current)')}`;
    lines.push(line);
  });
  return `${lines.join('\n')}\n`;
}
