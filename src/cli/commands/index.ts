/**
 * Every command by name, with its one-line summary. A command's module is loaded only when it
 * runs: loading them all (the parser, the validator, the Redis client) would add a third of a
 * second to every command before it can start its own work.
 */
import type { Command } from '../command.js';

export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

export const COMMANDS: readonly CommandEntry[] = [
  { name: 'validate', summary: 'Parse and schema-check the desired repository; nothing is contacted', load: async () => (await import('./validate.js')).validateCommand },
  { name: 'plan', summary: 'Show what apply would change', load: async () => (await import('./plan.js')).planCommand },
  { name: 'apply', summary: 'Write the changed documents to the store', load: async () => (await import('./apply.js')).applyCommand },
  { name: 'init', summary: 'Set up the bucket: website hosting, versioning, lifecycle', load: async () => (await import('./init.js')).initCommand },
  { name: 'get', summary: 'Print a document as stored (current, or a given revision)', load: async () => (await import('./documents.js')).getCommand },
  { name: 'history', summary: "List a document's transitions, newest first", load: async () => (await import('./documents.js')).historyCommand },
  { name: 'rollback', summary: 'Move current back to an earlier revision', load: async () => (await import('./documents.js')).rollbackCommand },
  { name: 'unlock', summary: 'Remove a stuck write lock after confirmation', load: async () => (await import('./documents.js')).unlockCommand },
  { name: 'watch', summary: 'Stream change events, one JSON object a line', load: async () => (await import('./watch.js')).watchCommand },
  { name: 'mirror', summary: 'Keep a directory equal to the latest documents', load: async () => (await import('./mirror.js')).mirrorCommand },
];
