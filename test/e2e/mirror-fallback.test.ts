/**
 * `statics mirror` as a subprocess when the change feed is not there: a stalled Redis (polling,
 * then the stream again), and the embedded store (polling only); atomic replacement; one mirror
 * per directory. (A separate file from mirror.test.ts so the two run in parallel.)
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalStore } from '../../src/store/local.js';
import { emptyTempDir, repositoryOf, runCli } from '../support/cli.js';
import { expectMirrored, onCleanup, setup, sha256, startMirror, useMirrorServices } from '../support/mirror.js';

const services = useMirrorServices();

describe('statics mirror without the change feed', () => {
  it('polls the store while Redis does not answer, and takes up the stream when it is back', async () => {
    const { dir, store, env, edit, apply } = await setup();
    await apply();
    const mirror = startMirror([dir, '--poll-interval', '200ms'], env);
    await mirror.waitFor('the first sync', /is in sync/);
    await expectMirrored(dir, store);

    services.redis().pause();
    // apply needs Redis for its locks: write the way a writer would, straight to the store.
    const key = 'edge/robots/default';
    const bytes = Buffer.from('User-agent: *\nDisallow: /private\n');
    const revision = sha256(bytes);
    const current = (await store.readCurrent([key])).get(key)!;
    await store.putRevision(key, revision, bytes, { mediaType: 'text/plain', size: bytes.length }, {});
    const transition = { revision, previous: current.revision, at: new Date().toISOString(), action: 'apply' as const };
    await store.setCurrent(key, transition, current);
    await mirror.waitFor('the polled change', /updated edge\/robots\/default [0-9a-f]{12} via poll/);
    await expectMirrored(dir, store);

    services.redis().resume();
    await edit('payments/flags/checkout.yaml', 'enabled: false\n');
    await apply();
    await mirror.waitFor('the streamed change', /updated payments\/flags\/checkout [0-9a-f]{12} via stream/);
    await expectMirrored(dir, store);
    expect(mirror.log(), mirror.log()).toMatch(/lost the change feed/);
    expect(await mirror.stop('SIGTERM'), mirror.log()).toBe(0);
  });

  it('mirrors the embedded store once or by polling, never showing a reader half a file', async () => {
    const blob = (fill: number): Buffer => Buffer.alloc(1024 * 1024, fill);
    const repo = await repositoryOf({
      'documents/web/assets/blob.bin': blob(1),
      'documents/web/flags/beta.json': '{"on": true}\n',
    });
    const target = await emptyTempDir();
    onCleanup(repo.cleanup, target.cleanup);
    const dir = path.join(target.dir, 'etc');
    const store = new LocalStore(path.join(repo.dir, '.statics'));
    const env = { STATICS_STORE: 'file://.statics' };
    const cli = (args: string[]) => runCli(args, { cwd: repo.dir, env });
    expect((await cli(['apply', '--auto-approve'])).code).toBe(0);

    const once = await cli(['mirror', dir, '--once']);
    expect(once.code, once.stderr).toBe(0);
    expect(once.stderr).toMatch(/up to date: 2 documents .*\(2 written, 0 removed\)/);
    await expectMirrored(dir, store);

    const mirror = startMirror([dir, '--poll-interval', '100ms', '--dir', repo.dir], {});
    await mirror.waitFor('the first sync', /is in sync/);
    // One mirror per directory.
    const second = await cli(['mirror', dir, '--once']);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/already being mirrored by process \d+/);

    // Readers of the file see one whole revision or the next, never a mix or a truncation.
    const revisions = new Set([1, 2, 3].map((fill) => sha256(blob(fill))));
    let reads = 0;
    let reading = true;
    const reader = (async () => {
      while (reading) {
        const bytes = await readFile(path.join(dir, 'web/assets/blob'));
        expect(revisions.has(sha256(bytes)), `read ${bytes.length} bytes`).toBe(true);
        reads++;
      }
    })();
    for (const fill of [2, 3]) {
      await writeFile(path.join(repo.dir, 'documents/web/assets/blob.bin'), blob(fill));
      expect((await cli(['apply', '--auto-approve'])).code).toBe(0);
      await mirror.waitFor(`revision ${fill}`, new RegExp(`updated web/assets/blob ${sha256(blob(fill)).slice(0, 12)} via poll`));
    }
    reading = false;
    await reader;
    expect(reads).toBeGreaterThan(10);
    await expectMirrored(dir, store);
    expect(await mirror.stop('SIGTERM'), mirror.log()).toBe(0);
    // No temp files left behind.
    expect((await readdir(path.join(dir, 'web/assets'))).filter((name) => name.startsWith('.'))).toEqual([]);
  });
});
