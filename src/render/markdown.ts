/**
 * Markdown renderings for pull-request comments and job summaries. Everything that comes from users
 * (keys, paths, values, diffs, messages) is made inert: escaped in Markdown and HTML, or placed in a
 * fence longer than any backtick run it contains.
 */
import { shortRevision } from '../keys.js';
import type { ApplyReport, EntryResult, Plan, PlanEntry } from '../model.js';
import {
  changeLines,
  hasChanges,
  humanSize,
  MAX_CHANGE_LINES,
  noChangesLine,
  planSummaryLine,
  unmanagedLine,
  sanitizeControl,
} from './format.js';
import { applySummaryLine, outcomeDetail } from './text.js';

export interface MarkdownOptions {
  /** Longest body allowed (GitHub comments: 65,536); details are dropped from the end to fit. */
  maxLength?: number;
  /** Where the full plan can be read when details are dropped. */
  detailsUrl?: string;
}

/** Longest JSON value on one line in a comment. */
const MARKDOWN_VALUE_LIMIT = 120;
/** Longest text-diff line in a comment, so one minified line cannot eat the size budget. */
const MARKDOWN_LINE_LIMIT = 500;

function oneLine(text: string): string {
  return sanitizeControl(text.replace(/\r\n|\r|\n/g, ' '));
}

/**
 * Text for Markdown inline context (table cells, headings, paragraphs): HTML specials as entities,
 * Markdown punctuation backslash-escaped, line breaks as spaces so a table row stays one row.
 */
export function escapeMarkdown(text: string): string {
  return oneLine(text)
    .replace(/[&<>]/g, (char) => (char === '&' ? '&amp;' : char === '<' ? '&lt;' : '&gt;'))
    .replace(/[\\`*_[\]|~$]/g, (char) => `\\${char}`)
    .replace(/^(\s*)([#+=-])/, '$1\\$2')
    .replace(/^(\s*\d+)([.)])/, '$1\\$2');
}

const HTML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text for HTML context (e.g. inside `<summary>`), where Markdown escapes are not processed. */
export function escapeHtml(text: string): string {
  return oneLine(text).replace(/[&<>"']/g, (char) => HTML_ENTITIES[char] ?? char);
}

/** Printable as an inline code span as is: no backticks, pipes, HTML or line breaks. */
const CODE_SAFE = /^[A-Za-z0-9._/:+=@,-]+$/;

/** A code span when the text is plainly safe in one (keys, revisions, stores), escaped text otherwise. */
export function inlineCode(text: string): string {
  return CODE_SAFE.test(text) ? `\`${text}\`` : escapeMarkdown(text);
}

/** A backtick fence longer than any backtick run in the content, so the content cannot close it. */
export function fenceFor(content: string): string {
  let longest = 0;
  for (const run of content.match(/`+/g) ?? []) longest = Math.max(longest, run.length);
  return '`'.repeat(Math.max(3, longest + 1));
}

/** A fenced code block whose content stays inert whatever it holds. */
export function codeBlock(content: string, info = ''): string {
  const body = content.endsWith('\n') ? content.slice(0, -1) : content;
  const fence = fenceFor(body);
  return `${fence}${info.replace(/[`\s]/g, '')}\n${body}\n${fence}`;
}

/** A Markdown link to an http(s) URL, or the URL as escaped text when it is anything else. */
function link(label: string, url: string): string {
  if (!/^https?:\/\/[^\s<>"'`]+$/i.test(url)) return `${label}: ${escapeMarkdown(url)}`;
  const destination = url.replace(/[()\\|]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
  return `[${label}](${destination})`;
}

const ACTION_LABELS: Record<PlanEntry['action'], string> = {
  create: '➕ create',
  update: '✏️ update',
  delete: '🗑️ delete',
  'no-op': 'no-op',
};

function revisionMove(base: string | null, revision: string | null): string {
  const show = (value: string | null) => (value ? inlineCode(shortRevision(value)) : '(none)');
  return `${show(base)} → ${show(revision)}`;
}

function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`;
}

function changeHint(entry: PlanEntry): string {
  const change = entry.change;
  if (!change) return '';
  if (change.kind === 'json-patch') {
    const operations = change.patch.filter((operation) => operation.op !== 'test' && operation.op !== '_get');
    return plural(operations.length, 'change');
  }
  if (change.kind === 'text') return `+${change.added} −${change.removed} lines`;
  return 'binary';
}

function detailsBlock(entry: PlanEntry): string {
  const hint = changeHint(entry);
  const summary =
    `${ACTION_LABELS[entry.action]} <code>${escapeHtml(entry.key)}</code>` +
    ` · ${escapeHtml(entry.mediaType)}, ${humanSize(entry.size)}${hint ? ` · ${escapeHtml(hint)}` : ''}`;
  const lines = changeLines(entry.change, {
    valueLength: MARKDOWN_VALUE_LIMIT,
    lines: MAX_CHANGE_LINES,
    lineLength: MARKDOWN_LINE_LIMIT,
  });
  const body = lines.length > 0 ? codeBlock(lines.map((line) => line.text).join('\n'), 'diff') : '_No change details._';
  // Blank lines around the body let GitHub render Markdown inside the HTML block.
  return `<details><summary>${summary}</summary>\n\n${body}\n\n</details>`;
}

function tableRow(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function heading(plan: Plan): string {
  let text = `### statics plan ${inlineCode(shortRevision(plan.id))} against ${inlineCode(plan.store)}`;
  if (plan.source.commit) text += `\n\nFrom commit ${inlineCode(plan.source.commit)}.`;
  return text;
}

function footer(plan: Plan): string {
  return (
    `<sub>Plan id <code>${escapeHtml(plan.id)}</code> · statics ${escapeHtml(plan.tool.version)}` +
    ` · ${escapeHtml(plan.createdAt)}</sub>`
  );
}

function summaryTable(plan: Plan): string {
  const s = plan.summary;
  return [
    tableRow(['Create', 'Update', 'Delete', 'Unchanged']),
    tableRow(['---:', '---:', '---:', '---:']),
    tableRow([String(s.create), String(s.update), String(s.delete), String(s.unchanged)]),
  ].join('\n');
}

export function renderPlanMarkdown(plan: Plan, options: MarkdownOptions = {}): string {
  const unmanaged = unmanagedLine(plan.summary);
  const head = `${heading(plan)}\n\n${summaryTable(plan)}\n\n**${planSummaryLine(plan.summary)}**${unmanaged ? `\n\n_${escapeMarkdown(unmanaged)}_` : ''}`;
  const foot = footer(plan);
  const changed = plan.entries.filter((entry) => entry.action !== 'no-op');

  if (!hasChanges(plan.summary) && changed.length === 0) {
    const body = `${head}\n\n${noChangesLine(plan.summary.unchanged)}\n\n${foot}\n`;
    return fit(body, options.maxLength, plan);
  }

  const tableHead = [
    tableRow(['Action', 'Document', 'Media type', 'Size', 'Revision']),
    tableRow(['---', '---', '---', '---:', '---']),
  ].join('\n');
  const rows = changed.map((entry) =>
    tableRow([
      ACTION_LABELS[entry.action],
      inlineCode(entry.key),
      escapeMarkdown(entry.mediaType),
      humanSize(entry.size),
      revisionMove(entry.base, entry.revision),
    ]),
  );
  const details = changed.map(detailsBlock);
  const moreRow = (count: number) => tableRow(['…', `${plural(count, 'more document')} not listed`, '', '', '']);
  const note = (hidden: number, unlisted: number) => {
    let text = `**Output truncated: ${plural(hidden, 'document')} not shown.**`;
    if (unlisted > 0) text += ` ${unlisted} of them ${unlisted === 1 ? 'is' : 'are'} not listed in the table either.`;
    if (options.detailsUrl) text += ` ${link('See the full plan', options.detailsUrl)}.`;
    return text;
  };

  const assemble = (rowCount: number, detailCount: number): string => {
    let table = tableHead;
    for (let i = 0; i < rowCount; i++) table += `\n${rows[i]}`;
    if (rowCount < rows.length) table += `\n${moreRow(rows.length - rowCount)}`;
    const parts = [head, table, ...details.slice(0, detailCount)];
    if (detailCount < details.length) parts.push(note(details.length - detailCount, rows.length - rowCount));
    parts.push(foot);
    return `${parts.join('\n\n')}\n`;
  };

  const max = options.maxLength;
  if (max === undefined) return assemble(rows.length, details.length);

  // Lengths by arithmetic, so finding what fits stays linear however many documents there are.
  const fixed = head.length + 2 + tableHead.length + foot.length + 2 + 1;
  let rowLength = rows.reduce((sum, row) => sum + row.length + 1, 0);
  let detailLength = details.reduce((sum, detail) => sum + detail.length + 2, 0);
  const noteLength = (detailCount: number, rowCount: number) =>
    detailCount < details.length ? note(details.length - detailCount, rows.length - rowCount).length + 2 : 0;

  // Drop details from the end first.
  for (let detailCount = details.length; detailCount >= 0; detailCount--) {
    if (detailCount < details.length) detailLength -= details[detailCount].length + 2;
    if (fixed + rowLength + detailLength + noteLength(detailCount, rows.length) <= max) {
      return checked(assemble(rows.length, detailCount), max, plan);
    }
  }
  // Then rows of the table, when even the table alone is too long.
  for (let rowCount = rows.length - 1; rowCount >= 0; rowCount--) {
    rowLength -= rows[rowCount].length + 1;
    const more = moreRow(rows.length - rowCount).length + 1;
    if (fixed + rowLength + more + noteLength(0, rowCount) <= max) return checked(assemble(rowCount, 0), max, plan);
  }
  return minimal(plan, max);
}

/** The arithmetic above is exact; this keeps the promise even if it ever is not. */
function checked(body: string, max: number, plan: Plan): string {
  return body.length <= max ? body : minimal(plan, max);
}

function fit(body: string, max: number | undefined, plan: Plan): string {
  return max === undefined || body.length <= max ? body : minimal(plan, max);
}

/** For limits too small for any table: the summary line, cut if even that does not fit. */
function minimal(plan: Plan, max: number): string {
  const text = `statics plan ${shortRevision(plan.id)}: ${planSummaryLine(plan.summary)}\n`;
  return text.length <= max ? text : text.slice(0, Math.max(0, max));
}

const OUTCOME_LABELS: Record<EntryResult['outcome'], string> = {
  applied: '✅ applied',
  'already-current': '🟰 already current',
  stale: '⚠️ stale',
  failed: '❌ failed',
};

export function renderApplyMarkdown(report: ApplyReport): string {
  const s = report.summary;
  const parts = [
    `### statics apply of plan ${inlineCode(shortRevision(report.planId))} to ${inlineCode(report.store)}`,
    report.ok ? 'All documents applied or already current.' : 'Some documents were not applied.',
    [
      tableRow(['Applied', 'Already current', 'Stale', 'Failed', 'Mirror repaired']),
      tableRow(['---:', '---:', '---:', '---:', '---:']),
      tableRow([s.applied, s.alreadyCurrent, s.stale, s.failed, s.repaired].map(String)),
    ].join('\n'),
  ];
  if (report.results.length > 0) {
    const rows = report.results.map((result) => {
      // The detail repeats the outcome word for stale and failed; the table has its own column.
      const detail = result.outcome === 'stale' || result.outcome === 'failed' ? outcomeDetail(result).replace(/^\w+: /, '') : '';
      return tableRow([
        OUTCOME_LABELS[result.outcome],
        result.action,
        inlineCode(result.key),
        revisionMove(result.base, result.revision),
        escapeMarkdown(detail),
      ]);
    });
    parts.push(
      [
        tableRow(['Outcome', 'Action', 'Document', 'Revision', 'Detail']),
        tableRow(['---', '---', '---', '---', '---']),
        ...rows,
      ].join('\n'),
    );
  }
  parts.push(`**${applySummaryLine(s)}**`);
  parts.push(`<sub>Plan id <code>${escapeHtml(report.planId)}</code></sub>`);
  return `${parts.join('\n\n')}\n`;
}
