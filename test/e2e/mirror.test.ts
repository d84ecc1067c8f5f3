/**
 * `statics mirror` as a subprocess against s3rver and redis-server (and the embedded store):
 * the directory equals the store after bursts of real applies, Redis restarts (also while the
 * mirror is frozen, so the events are lost), a prune, a stalled Redis, and restarts of the mirror.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectMirrored, setup, startMirror, useMirrorServices } from '../support/mirror.js';

const services = useMirrorServices();

describe('statics mirror', () => {
  it('stays equal to the store through bursts of applies, Redis restarts, a prune and its own restart', async () => {
    const { repo, dir, store, env, edit, apply } = await setup();
    await apply();
    const mirror = startMirror([dir, '--prefix', 'payments/', '--poll-interval', '300ms'], env);
    await mirror.waitFor('the first sync', /is in sync/);
    expect([...(await expectMirrored(dir, store, 'payments/')).keys()]).toEqual(['payments/flags/checkout', 'payments/flags/refunds', 'payments/limits/usd']);
    // Outside the prefix: not mirrored.
    expect(mirror.log(), mirror.log()).not.toContain('edge/robots');

    // A burst, with Redis restarting (empty) in the middle.
    await edit('payments/flags/checkout.yaml', 'enabled: false\n');
    await apply();
    await services.redis().restart();
    await edit('payments/limits/usd.json', '{"max": 200}\n');
    await edit('payments/flags/refunds.yaml', 'enabled: true\n');
    await apply();
    await expectMirrored(dir, store, 'payments/');

    // Frozen while a change is applied and Redis then restarts: the event is gone with it, so
    // only the store can tell the mirror.
    mirror.child.kill('SIGSTOP');
    await edit('payments/flags/checkout.yaml', 'enabled: true\npercent: 5\n');
    await apply();
    await services.redis().restart();
    mirror.child.kill('SIGCONT');
    const files = await expectMirrored(dir, store, 'payments/');
    expect(Buffer.from(files.get('payments/flags/checkout')!, 'base64').toString()).toBe('{\n  "enabled": true,\n  "percent": 5\n}\n');
    await mirror.waitFor('the re-sync', /re-synced from/);

    expect(await mirror.stop('SIGTERM'), mirror.log()).toBe(0);
    const state = JSON.parse(await readFile(path.join(dir, '.statics-mirror.json'), 'utf8'));
    expect(state.position, mirror.log()).toMatch(/^\d+-\d+$/);
    expect(Object.keys(state.documents)).toEqual(['payments/flags/checkout', 'payments/flags/refunds', 'payments/limits/usd']);

    // Pruned while no mirror ran: the next one resumes the stream where the last one stopped,
    // and removes the file (and the folder it leaves empty).
    await rm(path.join(repo, 'documents/payments/limits/usd.json'));
    await apply('--prune');
    const again = startMirror([dir, '--prefix', 'payments/', '--poll-interval', '300ms'], env);
    await again.waitFor('the catch-up', /is in sync/);
    expect(again.log(), again.log()).toMatch(/resuming the stream after \d+-\d+/);
    expect(again.log(), again.log()).toMatch(/removed payments\/limits\/usd via stream/);
    expect(again.log(), again.log()).not.toMatch(/via (snapshot|resync|poll)/);
    expect([...(await expectMirrored(dir, store, 'payments/')).keys()]).toEqual(['payments/flags/checkout', 'payments/flags/refunds']);
    expect(await readdir(path.join(dir, 'payments'))).toEqual(['flags']);
    expect(await again.stop('SIGINT'), again.log()).toBe(0);
    expect(mirror.log() + again.log()).not.toMatch(/Warning|at .*\.js:\d+/);
  });

});
