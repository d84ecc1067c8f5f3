/** The shared vocabulary of statics: desired documents, plans and apply results. Plain data only. */
import type { Operation } from 'fast-json-patch';

/** How a document is stored and diffed. */
export type DocumentKind = 'structured' | 'text' | 'binary';

/** One document of the desired repository, ready to store. */
export interface DesiredDocument {
  /** `domain/type/id`. */
  key: string;
  /** Path of the source file relative to the repository directory, with `/` separators. */
  path: string;
  kind: DocumentKind;
  mediaType: string;
  /** The stored bytes: canonical JSON for structured documents, the file as is otherwise. */
  bytes: Buffer;
  /** Lowercase hex sha256 of `bytes`. */
  revision: string;
  size: number;
}

export type Action = 'create' | 'update' | 'delete' | 'no-op';

/** What changes in one document, in the form that fits its kind. */
export type Change =
  /** RFC 6902 operations turning the current value into the desired one. */
  | { kind: 'json-patch'; patch: PatchOperation[] }
  /** A unified diff of the text. */
  | { kind: 'text'; diff: string; added: number; removed: number }
  /** Sizes and digests only. */
  | { kind: 'binary'; before: BlobSummary | null; after: BlobSummary | null };

/** An RFC 6902 operation; `replace` and `remove` also carry the value they replace, for review. */
export type PatchOperation = Operation & { oldValue?: unknown };

export interface BlobSummary {
  size: number;
  sha256: string;
}

/** The stored bytes carried in a plan, so applying a saved plan writes exactly what was reviewed. */
export interface PlanContent {
  encoding: 'utf8' | 'base64';
  data: string;
}

export interface PlanEntry {
  key: string;
  action: Action;
  /** The revision `current` pointed at when planned; null when absent. */
  base: string | null;
  /** The revision `current` will point at; null for a delete. */
  revision: string | null;
  mediaType: string;
  kind: DocumentKind;
  /** Size in bytes of the new revision (of the base revision for a delete). */
  size: number;
  /** Source file relative to the repository directory, when the entry comes from one. */
  path?: string;
  change?: Change;
  /** Bytes of the new revision (create and update); absent when the revision is already stored. */
  content?: PlanContent;
}

export interface PlanSummary {
  create: number;
  update: number;
  delete: number;
  unchanged: number;
  /** Documents in the store (in scope) without a file, left alone because the plan does not prune. */
  unmanaged?: number;
}

export const PLAN_FORMAT = 'statics-plan';
export const PLAN_FORMAT_VERSION = 1;

export interface Plan {
  format: typeof PLAN_FORMAT;
  formatVersion: typeof PLAN_FORMAT_VERSION;
  /** Deterministic identity: sha256 over key, action, base and new revision of every change. */
  id: string;
  createdAt: string;
  tool: { name: 'statics'; version: string };
  /** Where the desired documents came from. */
  source: { dir: string; commit?: string };
  /** The store planned against, as safe to print (no credentials). */
  store: string;
  options: { prune: boolean; targets: string[] };
  summary: PlanSummary;
  /** Every document in scope, sorted by key; no-ops included so a plan is a full picture. */
  entries: PlanEntry[];
}

/** How applying one entry ended. */
export type Outcome =
  /** `current` moved to the planned revision. */
  | 'applied'
  /** `current` already was the planned revision (a re-run, or another writer with the same content). */
  | 'already-current'
  /** `current` moved since the plan; nothing written over it. */
  | 'stale'
  /** An error; the document is as it was or converges on the next run. */
  | 'failed';

export interface EntryResult {
  key: string;
  action: Exclude<Action, 'no-op'>;
  outcome: Outcome;
  base: string | null;
  revision: string | null;
  /** For stale entries: what `current` was found to be. */
  actual?: string | null;
  error?: string;
}

export interface ApplySummary {
  applied: number;
  alreadyCurrent: number;
  stale: number;
  failed: number;
  /** Mirror entries found wrong and repaired. */
  repaired: number;
}

export interface ApplyReport {
  planId: string;
  store: string;
  results: EntryResult[];
  summary: ApplySummary;
  /** True when nothing was stale or failed. */
  ok: boolean;
}

/** One move of `current`, kept newest first in its record. */
export interface Transition {
  /** The revision `current` moved to; null when it was deleted. */
  revision: string | null;
  previous: string | null;
  at: string;
  action: 'apply' | 'rollback' | 'delete';
  commit?: string;
  actor?: string;
}

/** Where a revision came from, stored with it. */
export interface Provenance {
  commit?: string;
  path?: string;
}
