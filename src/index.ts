/** The statics library: the engine behind the CLI and the action, and the reader side. */
export { createPlan, type PlanOptions } from './engine/plan.js';
export { applyPlan, type ApplyOptions } from './engine/apply.js';
export { parsePlan, serializePlan } from './engine/planfile.js';
export { readDocument, documentHistory, rollback } from './engine/documents.js';
export { loadSettings, type Settings } from './config/settings.js';
export { openStore, openCoordinator } from './backends.js';
export type { RevisionStore, CurrentRecord } from './store/types.js';
export type { Coordinator, ChangeEvent } from './coord/types.js';
export * from './model.js';
export { StaticsError, ProblemsError, formatProblem, type Problem } from './errors.js';
export {
  StaticsClient,
  DirectoryMirror,
  MIRROR_STATE_FILE,
  compareStreamIds,
  eventLine,
  normalizePrefix,
  parseEvent,
  STREAM_START,
  type ClientDocument,
  type ClientOptions,
  type DeliveryContext,
  type DeliverySource,
  type MirrorOptions,
  type MirrorSummary,
  type Watch,
  type WatchEvent,
  type WatchHandler,
  type WatchNotice,
  type WatchOptions,
  type WatchStats,
} from './client/index.js';
