/** The reader side of statics: latest documents, revisions, history, a change feed and a directory mirror. */
export { StaticsClient, DEFAULT_POLL_INTERVAL_MS, type ClientDocument, type ClientOptions } from './client.js';
export { DirectoryMirror, MIRROR_STATE_FILE, type MirrorOptions, type MirrorSummary } from './mirror.js';
export type { Watch, WatchHandler, WatchNotice, WatchOptions, WatchStats, DeliveryContext } from './watch.js';
export { compareStreamIds, eventLine, normalizePrefix, parseEvent, STREAM_START, type DeliverySource, type WatchEvent } from './events.js';
