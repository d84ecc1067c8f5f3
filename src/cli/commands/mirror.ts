/** `statics mirror DIR`: keep a directory equal to the latest documents, like a config daemon. */
import path from 'node:path';
import { StaticsError } from '../../errors.js';
import { BACKEND_OPTIONS, flag, parseCommandArgs, stringOption } from '../args.js';
import type { Command } from '../command.js';
import { settingsFor } from '../shared.js';
import { pollInterval, stopSignal } from './watch.js';
import type { DirectoryMirror as Mirror } from '../../client/index.js';

export const mirrorCommand: Command = {
  help: `Usage: statics mirror DIR [options]

Keeps DIR/<domain>/<type>/<id> equal to the current revision of every document under the
prefix, and runs until SIGINT or SIGTERM (exit 0). Files are replaced atomically (temp file in
the same directory, fsync, rename), so readers never see half a file; documents that are
deleted (pruned) are removed. DIR/.statics-mirror.json records each file's revision and the
stream position; a restart resumes from it when the files still match, and otherwise reads
the store once. Changes come from Redis (catching up from the stream after reconnects); while
Redis is unreachable, and always without Redis, the store is polled. One line per change on
stderr.

Options:
  --prefix P               only documents whose key starts with P (e.g. payments/)
  --once                   bring DIR up to date from one read of the store, then exit
  --poll-interval DUR      how often to read the store while Redis is unreachable (default 10s)
  --no-fsync               skip fsync (faster; a power cut may leave older contents, never torn files)
  --dir DIR                the repository whose statics.yaml names the store (default .)
  --store URL              file://PATH or s3://bucket/prefix (env STATICS_STORE)
  --redis URL              redis:// or rediss:// (env STATICS_REDIS_URL)
  --redis-namespace NS     key prefix shared with the writers (env STATICS_REDIS_NAMESPACE)`,
  async run(argv, io) {
    const parsed = parseCommandArgs('mirror', argv, {
      ...BACKEND_OPTIONS,
      dir: { type: 'string' },
      prefix: { type: 'string' },
      once: { type: 'boolean' },
      'poll-interval': { type: 'string' },
      'no-fsync': { type: 'boolean' },
    }, 1);
    const target = parsed.positionals[0];
    if (!target) throw new StaticsError('usage', 'mirror: which directory? Give DIR (see statics mirror --help)');
    const { StaticsClient, DirectoryMirror, normalizePrefix } = await import('../../client/index.js');
    const prefix = normalizePrefix(stringOption(parsed, 'prefix'));
    const pollIntervalMs = pollInterval(parsed);
    const settings = await settingsFor(path.resolve(io.cwd, stringOption(parsed, 'dir') ?? '.'), parsed, io);
    const once = flag(parsed, 'once');
    const log = (line: string): void => {
      io.stderr.write(`${new Date().toISOString()} ${line}\n`);
    };

    const stop = stopSignal();
    const client = await StaticsClient.open({
      store: settings.store,
      s3: { endpoint: settings.s3Endpoint },
      // One read of the store needs no change feed.
      redisUrl: once ? undefined : settings.redisUrl,
      namespace: settings.redisNamespace,
      pollIntervalMs,
      // A stalled Redis keeps its sockets: noticed by PING, no later than the next poll would be.
      healthCheckMs: Math.min(5_000, pollIntervalMs),
    });
    let mirror: Mirror | undefined;
    try {
      mirror = await DirectoryMirror.open({
        dir: path.resolve(io.cwd, target),
        prefix,
        client,
        pollIntervalMs,
        fsync: !flag(parsed, 'no-fsync'),
        log,
      });
      const scope = `${prefix ? `under ${prefix} ` : ''}in ${client.description}`;
      if (once) {
        const summary = await mirror.syncOnce();
        log(`${mirror.dir} is up to date: ${summary.documents} documents ${scope} (${summary.written} written, ${summary.removed} removed)`);
        return 0;
      }
      await Promise.race([mirror.start(), stop.signalled]);
      if (!stop.fired) {
        const via = client.stream && client.redisConnected ? `following ${client.stream}` : `polling every ${pollIntervalMs / 1000}s${client.stream ? ' until Redis answers' : ''}`;
        log(`${mirror.dir} is in sync with the documents ${scope}; ${via}`);
        await Promise.race([mirror.done, stop.signalled]);
      }
      return 0;
    } finally {
      stop.dispose();
      try {
        await mirror?.close();
      } finally {
        await client.close();
      }
    }
  },
};
