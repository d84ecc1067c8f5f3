/**
 * Fitting Markdown into GitHub's limits. The renderers cut by string length; the job summary's
 * limit (1 MiB per step) is in bytes, and a non-ASCII character takes up to 4 of them.
 */
import type { ApplyReport, EntryResult, Plan } from '../model.js';
import { renderApplyMarkdown, renderPlanMarkdown } from '../render/index.js';

/** GitHub refuses a step's summary over 1 MiB; the rest is headroom for what the runner adds. */
export const SUMMARY_BYTES = 1_000_000;

export function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** The plan's Markdown in at most `maxBytes` bytes, dropping details from the end as the renderer does. */
export function fitPlanMarkdown(plan: Plan, maxBytes: number, detailsUrl?: string): string {
  let maxLength = maxBytes;
  for (;;) {
    const markdown = renderPlanMarkdown(plan, { maxLength, ...(detailsUrl ? { detailsUrl } : {}) });
    const bytes = byteLength(markdown);
    if (bytes <= maxBytes) return markdown;
    // Shrink by the overshoot's ratio (and a little more), so this ends in a few rounds.
    maxLength = Math.min(maxLength - 1, Math.floor((maxLength * maxBytes) / bytes * 0.99));
    if (maxLength <= 0) return '';
  }
}

/**
 * The apply report's Markdown in at most `maxBytes` bytes. When every row does not fit, the rows
 * shown are the ones that need attention first (stale, failed), then as many others as fit; the
 * counts always cover every document.
 */
export function fitApplyMarkdown(report: ApplyReport, maxBytes: number, fullReportHint: string): string {
  const full = renderApplyMarkdown(report);
  if (byteLength(full) <= maxBytes) return full;
  const attention = (result: EntryResult) => (result.outcome === 'stale' || result.outcome === 'failed' ? 0 : 1);
  const ordered = report.results
    .map((result, index) => ({ result, index }))
    .sort((a, b) => attention(a.result) - attention(b.result) || a.index - b.index)
    .map(({ result }) => result);
  const render = (count: number) => {
    const shown = ordered.slice(0, count);
    const note = `_${count} of ${report.results.length} results shown (stale and failed ones first). ${fullReportHint}_\n`;
    return `${renderApplyMarkdown({ ...report, results: shown })}\n${note}`;
  };
  // The largest count that fits; rendering is linear, so a binary search keeps this fast.
  let low = 0;
  let high = report.results.length - 1;
  if (byteLength(render(0)) > maxBytes) return '';
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (byteLength(render(middle)) <= maxBytes) low = middle;
    else high = middle - 1;
  }
  return render(low);
}
