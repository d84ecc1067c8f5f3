/** Text, Markdown and JSON renderings of plans, apply reports and histories. */
export {
  applySummaryLine,
  outcomeDetail,
  renderApplyText,
  renderHistoryText,
  renderPlanText,
  type TextOptions,
} from './text.js';
export {
  codeBlock,
  escapeHtml,
  escapeMarkdown,
  fenceFor,
  inlineCode,
  renderApplyMarkdown,
  renderPlanMarkdown,
  type MarkdownOptions,
} from './markdown.js';
export { renderApplyJson, renderPlanJson } from './json.js';
export {
  formatPointer,
  formatValue,
  humanSize,
  noChangesLine,
  planSummaryLine,
  sanitizeControl,
} from './format.js';
