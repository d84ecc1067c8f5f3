import path from 'node:path';
import { openStore } from '../../backends.js';
import { StaticsError } from '../../errors.js';
import { BACKEND_OPTIONS, flag, parseCommandArgs, stringOption } from '../args.js';
import type { Command } from '../command.js';
import { settingsFor } from '../shared.js';

export const initCommand: Command = {
  help: `Usage: statics init [--dir DIR] [--store s3://bucket/prefix] [options]

Configures the store's bucket for statics, idempotently:
  website      static website hosting, so GET …/current answers a redirect to the revision
  versioning   keeps every move of current, for deep history and rollback
  lifecycle    (with --noncurrent-days N) expires old versions of current after N days
  layout       (with --layout, on a store without documents) where revisions live: split
               (PREFIX/~revisions/<domain>/<type>/<id>/<revision>, what a new store gets
               anyway: a plan lists only the pointers) or nested (beside current)

Options:
  --create-bucket          create the bucket when it does not exist
  --noncurrent-days N      add the lifecycle rule
  --layout LAYOUT          split (the default for a new store) or nested
  --dir DIR                the repository whose statics.yaml names the store (default .)
  --store URL              s3://bucket/prefix (env STATICS_STORE)

Exit codes: 0 everything configured (or already so), 1 a setting could not be applied; each
line says what that means for you.`,
  async run(argv, io) {
    const parsed = parseCommandArgs('init', argv, {
      ...BACKEND_OPTIONS,
      dir: { type: 'string' },
      'create-bucket': { type: 'boolean' },
      'noncurrent-days': { type: 'string' },
      layout: { type: 'string' },
    }, 0);
    const layout = stringOption(parsed, 'layout');
    if (layout !== undefined && layout !== 'nested' && layout !== 'split') {
      throw new StaticsError('usage', `init: --layout must be split or nested, not "${layout}"`);
    }
    const days = stringOption(parsed, 'noncurrent-days');
    if (days !== undefined && !/^[1-9][0-9]{0,4}$/.test(days)) {
      throw new StaticsError('usage', `init: --noncurrent-days must be a whole number of days, not "${days}"`);
    }
    const settings = await settingsFor(path.resolve(io.cwd, stringOption(parsed, 'dir') ?? '.'), parsed, io);
    if (!settings.store.startsWith('s3://')) {
      io.stdout.write(`${settings.store} is a local directory: there is nothing to set up.\n`);
      return 0;
    }
    const store = await openStore(settings);
    const [{ S3Store }, { configureBucket }] = await Promise.all([import('../../store/s3.js'), import('../../store/s3-setup.js')]);
    if (!(store instanceof S3Store)) throw new StaticsError('internal', 'expected an S3 store');
    try {
      const steps = await configureBucket(store, {
        createBucket: flag(parsed, 'create-bucket'),
        ...(days ? { noncurrentVersionDays: Number(days) } : {}),
      });
      if (layout) {
        const status = await store.useLayout(layout);
        steps.push({ setting: 'layout', status, detail: layout === 'split' ? 'revisions under ~revisions/: a plan lists the pointers, not the revisions' : 'revisions beside current: a plan lists them all' });
      }
      const width = Math.max(...steps.map((s) => s.setting.length));
      for (const step of steps) io.stdout.write(`${step.setting.padEnd(width)}  ${step.status}: ${step.detail}\n`);
      const missing = steps.filter((s) => s.status === 'failed' || s.status === 'unsupported');
      if (missing.length > 0) {
        io.stderr.write(`statics: ${store.description} is not fully set up: ${missing.map((s) => `${s.setting} ${s.status}`).join(', ')}\n`);
        return 1;
      }
      return 0;
    } finally {
      await store.close();
    }
  },
};
