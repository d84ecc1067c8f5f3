/** `statics watch [PREFIX]`: change events as JSON lines until SIGINT/SIGTERM. */
import path from 'node:path';
import { parseDuration } from '../../config/units.js';
import { StaticsError } from '../../errors.js';
import { BACKEND_OPTIONS, flag, parseCommandArgs, stringOption, type Parsed } from '../args.js';
import type { Command } from '../command.js';
import type { Io } from '../io.js';
import { settingsFor } from '../shared.js';

export const watchCommand: Command = {
  help: `Usage: statics watch [PREFIX] [options]

Prints one JSON object per line for every change of a document whose key starts with PREFIX
(e.g. payments/ or payments/flags/; all documents without it), in the shape of
schemas/event.schema.json, until interrupted (SIGINT or SIGTERM; exit 0).

Changes come from Redis: the pub/sub channel <namespace>statics:changes while connected, the
stream <namespace>statics:events to catch up after a reconnect. Events read from the stream carry
its id as "stream". When the stream cannot be continued (trimmed, Redis restarted empty) or
Redis is unreachable, the store is read instead and what changed is printed without "stream".
Without Redis the store is polled. Progress and problems go to stderr.

Options:
  --from-start             first replay the changes the stream retains (needs Redis)
  --poll-interval DUR      how often to read the store while Redis is unreachable (default 10s)
  --dir DIR                the repository whose statics.yaml names the store (default .)
  --store URL              file://PATH or s3://bucket/prefix (env STATICS_STORE)
  --redis URL              redis:// or rediss:// (env STATICS_REDIS_URL)
  --redis-namespace NS     key prefix shared with the writers (env STATICS_REDIS_NAMESPACE)`,
  async run(argv, io) {
    const parsed = parseCommandArgs('watch', argv, {
      ...BACKEND_OPTIONS,
      dir: { type: 'string' },
      'from-start': { type: 'boolean' },
      'poll-interval': { type: 'string' },
    }, 1);
    const { StaticsClient, eventLine, normalizePrefix } = await import('../../client/index.js');
    const prefix = normalizePrefix(parsed.positionals[0]);
    const pollIntervalMs = pollInterval(parsed);
    const settings = await settingsFor(path.resolve(io.cwd, stringOption(parsed, 'dir') ?? '.'), parsed, io);
    const fromStart = flag(parsed, 'from-start');
    if (fromStart && !settings.redisUrl) {
      throw new StaticsError('usage', 'watch: --from-start replays the Redis stream; set --redis or STATICS_REDIS_URL');
    }

    const stop = stopSignal();
    const client = await StaticsClient.open({
      store: settings.store,
      s3: { endpoint: settings.s3Endpoint },
      redisUrl: settings.redisUrl,
      namespace: settings.redisNamespace,
      pollIntervalMs,
      // A stalled Redis keeps its sockets: noticed by PING, no later than the next poll would be.
      healthCheckMs: Math.min(5_000, pollIntervalMs),
      onNotice: (notice) => io.stderr.write(`statics: ${notice.message}\n`),
    });
    try {
      const output = lineWriter(io, stop.trigger);
      const watch = client.watch(prefix, (event) => output(eventLine(event)), { from: fromStart ? 'start' : 'now' });
      await Promise.race([watch.ready, stop.signalled]);
      if (!stop.fired) {
        const via = client.stream && client.redisConnected ? `through ${client.stream}` : `polling every ${pollIntervalMs / 1000}s${client.stream ? ' until Redis answers' : ''}`;
        io.stderr.write(`statics: watching ${prefix || 'all documents'} in ${client.description} ${via}\n`);
        await Promise.race([watch.done, stop.signalled]);
      }
    } finally {
      stop.dispose();
      await client.close();
    }
    return 0;
  },
};

export function pollInterval(parsed: Parsed): number {
  const text = stringOption(parsed, 'poll-interval');
  if (text === undefined) return 10_000;
  const ms = parseDuration(text, '--poll-interval');
  if (ms < 100) throw new StaticsError('usage', `--poll-interval must be at least 100ms, not "${text}"`);
  return ms;
}

/** Settles on SIGINT or SIGTERM (or `trigger`); `dispose` removes the handlers. */
export function stopSignal(): { signalled: Promise<void>; readonly fired: boolean; trigger(): void; dispose(): void } {
  let fired = false;
  let resolve!: () => void;
  const signalled = new Promise<void>((done) => (resolve = done));
  const trigger = (): void => {
    fired = true;
    resolve();
  };
  process.on('SIGINT', trigger);
  process.on('SIGTERM', trigger);
  return {
    signalled,
    get fired() {
      return fired;
    },
    trigger,
    dispose() {
      process.off('SIGINT', trigger);
      process.off('SIGTERM', trigger);
    },
  };
}

/** Writes lines with backpressure; a closed stdout (e.g. `| head`) ends the watch quietly. */
function lineWriter(io: Io, closed: () => void): (line: string) => Promise<void> {
  let broken = false;
  io.stdout.on('error', () => {
    broken = true;
    closed();
  });
  return (line) =>
    new Promise<void>((resolve) => {
      if (broken) return resolve();
      if (io.stdout.write(line + '\n')) resolve();
      else io.stdout.once('drain', resolve);
    });
}
