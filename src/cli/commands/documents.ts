/** Commands on one document: get, history, rollback, unlock. */
import path from 'node:path';
import { documentHistory, readDocument, rollback } from '../../engine/documents.js';
import { StaticsError } from '../../errors.js';
import { parseKey, formatKey } from '../../keys.js';
import { renderHistoryText } from '../../render/index.js';
import { describeHolder } from '../../coord/types.js';
import { BACKEND_OPTIONS, flag, parseCommandArgs, stringOption, type OptionSpec, type Parsed } from '../args.js';
import type { Command } from '../command.js';
import { confirm, useColor, type Io } from '../io.js';
import { actorName, settingsFor, withBackends, withStore } from '../shared.js';

const DOCUMENT_OPTIONS = { ...BACKEND_OPTIONS, dir: { type: 'string' } } satisfies OptionSpec;
const DOCUMENT_HELP_OPTIONS = `  --dir DIR                the repository whose statics.yaml names the store (default .)
  --store URL              file://PATH or s3://bucket/prefix (env STATICS_STORE)`;

function keyArgument(command: string, parsed: Parsed): string {
  const text = parsed.positionals[0];
  if (!text) throw new StaticsError('usage', `${command}: which document? Give its key, domain/type/id (see statics ${command} --help)`);
  return formatKey(parseKey(text));
}

function settingsOf(parsed: Parsed, io: Io) {
  return settingsFor(path.resolve(io.cwd, stringOption(parsed, 'dir') ?? '.'), parsed, io);
}

export const getCommand: Command = {
  help: `Usage: statics get KEY [--revision REV]

Writes the stored bytes of KEY (domain/type/id) to stdout: the current revision, or REV
(a full sha256 or a unique prefix of at least 4 hex digits).

Options:
  --revision REV           an earlier revision
${DOCUMENT_HELP_OPTIONS}`,
  async run(argv, io) {
    const parsed = parseCommandArgs('get', argv, { ...DOCUMENT_OPTIONS, revision: { type: 'string' } }, 1);
    const key = keyArgument('get', parsed);
    const settings = await settingsOf(parsed, io);
    const stored = await withStore(settings, (store) => readDocument(store, key, stringOption(parsed, 'revision')));
    io.stdout.write(stored.bytes);
    return 0;
  },
};

export const historyCommand: Command = {
  help: `Usage: statics history KEY [--json]

Lists the moves of KEY's current pointer, newest first: when, what, from which revision to
which, the commit and who.

Options:
  --json                   one JSON object {key, current, transitions} instead of text
${DOCUMENT_HELP_OPTIONS}`,
  async run(argv, io) {
    const parsed = parseCommandArgs('history', argv, { ...DOCUMENT_OPTIONS, json: { type: 'boolean' } }, 1);
    const key = keyArgument('history', parsed);
    const settings = await settingsOf(parsed, io);
    const { current, transitions } = await withStore(settings, (store) => documentHistory(store, key));
    if (flag(parsed, 'json')) io.stdout.write(JSON.stringify({ key, current, transitions }, null, 2) + '\n');
    else io.stdout.write(renderHistoryText(key, transitions, current, { color: useColor(io) }));
    return 0;
  },
};

export const rollbackCommand: Command = {
  help: `Usage: statics rollback KEY --to REV

Moves KEY's current pointer to REV, a stored revision (a full sha256 or a unique prefix of at
least 4 hex digits; see statics history KEY), under the same lock and checks as apply. The
desired repository is not changed: the next apply writes its content again unless it is
reverted too.

Options:
  --to REV                 the revision to go back to (required)
  --lock-timeout DUR       how long to wait for the lock (default 30s)
  --redis URL              redis:// or rediss:// for locks (env STATICS_REDIS_URL)
${DOCUMENT_HELP_OPTIONS}`,
  async run(argv, io) {
    const parsed = parseCommandArgs('rollback', argv, { ...DOCUMENT_OPTIONS, to: { type: 'string' }, 'lock-timeout': { type: 'string' } }, 1);
    const key = keyArgument('rollback', parsed);
    const to = stringOption(parsed, 'to');
    if (!to) throw new StaticsError('usage', 'rollback: --to REV is required (see statics history KEY for revisions)');
    const settings = await settingsOf(parsed, io);
    const result = await withBackends(settings, (store, coord) =>
      rollback(store, coord, key, to, { parallelism: 1, lockTimeoutMs: settings.lockTimeoutMs, actor: actorName(io) }),
    );
    if (result.outcome === 'applied') io.stdout.write(`Rolled back ${key} to ${result.revision}.\n`);
    else if (result.outcome === 'already-current') io.stdout.write(`${key} is already at ${result.revision}.\n`);
    else throw new StaticsError(result.outcome === 'stale' ? 'stale' : 'store', `rollback of ${key} ${result.outcome}: ${result.error ?? 'current moved while rolling back; try again'}`);
    return 0;
  },
};

export const unlockCommand: Command = {
  help: `Usage: statics unlock KEY [--yes]

Shows who holds KEY's write lock and removes it after you type 'yes'. Only for a lock left by
a writer that is gone: removing a live writer's lock lets two writers race (the stale check
still stops the second from overwriting).

Options:
  --yes                    remove without asking (needed when not on a terminal)
  --redis URL              redis:// or rediss:// (env STATICS_REDIS_URL)
${DOCUMENT_HELP_OPTIONS}`,
  async run(argv, io) {
    const parsed = parseCommandArgs('unlock', argv, { ...DOCUMENT_OPTIONS, yes: { type: 'boolean' } }, 1);
    const key = keyArgument('unlock', parsed);
    const settings = await settingsOf(parsed, io);
    return withBackends(settings, async (_store, coord) => {
      const info = await coord.lockInfo(key);
      if (!info) {
        io.stdout.write(`${key} is not locked.\n`);
        return 0;
      }
      const expiry = info.expiresInMs === null ? '' : info.expiresInMs > 0 ? `, expires in ${Math.ceil(info.expiresInMs / 1000)}s unless renewed` : ', expired';
      io.stdout.write(`${key} is locked${describeHolder(info)}${expiry}.\n`);
      if (!flag(parsed, 'yes')) {
        if (!io.stdin.isTTY) throw new StaticsError('usage', 'unlock: not on a terminal, so nothing can be confirmed; pass --yes');
        if (!(await confirm(io, 'Remove this lock? Only "yes" is accepted: '))) {
          io.stderr.write('Unlock cancelled.\n');
          return 1;
        }
      }
      await coord.forceUnlock(key);
      io.stdout.write(`Removed the lock on ${key}.\n`);
      return 0;
    });
  },
};
