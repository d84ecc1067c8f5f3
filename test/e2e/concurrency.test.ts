/**
 * Several OS processes writing the same documents at once, against real s3rver and redis-server.
 * Correctness: every document ends with an unbroken chain of transitions, every reported success
 * is in it, nothing unreported is, and losers report stale rather than overwrite.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ApplyReport } from '../../src/model.js';
import { repositoryOf, runCli, type CliResult } from '../support/cli.js';
import { freshTarget, startServices, waitFor, type Services, type Target } from '../support/services.js';

const WRITERS = 8;
const DOCUMENTS = 50;

let services: Services;
const cleanups: Array<() => Promise<void>> = [];
beforeAll(async () => {
  services = await startServices();
});
afterAll(async () => services?.stop());
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function target(): Promise<Target> {
  const made = await freshTarget(services);
  cleanups.push(made.close);
  return made;
}

function documentName(index: number): string {
  return `doc-${String(index).padStart(2, '0')}`;
}

async function writerRepository(writer: number, documents: number, extra: Record<string, string> = {}) {
  const files: Record<string, string> = { ...extra };
  for (let index = 0; index < documents; index++) {
    files[`documents/load/flags/${documentName(index)}.yaml`] = `writer: ${writer}\ndocument: ${index}\n`;
  }
  const repo = await repositoryOf(files);
  cleanups.push(repo.cleanup);
  return repo.dir;
}

function revisionOf(writer: number, index: number): string {
  return createHash('sha256').update(`{\n  "document": ${index},\n  "writer": ${writer}\n}\n`).digest('hex');
}

describe('concurrent writers', () => {
  it(`${WRITERS} processes applying different content to the same ${DOCUMENTS} documents`, async () => {
    const { env, store, redis, namespace } = await target();
    const dirs = await Promise.all(Array.from({ length: WRITERS }, (_, writer) => writerRepository(writer, DOCUMENTS)));
    const results: CliResult[] = await Promise.all(dirs.map((dir) => runCli(['apply', dir, '--auto-approve', '--format', 'json'], { env })));

    const reports = results.map((result, writer) => {
      const report = JSON.parse(result.stdout) as ApplyReport;
      expect(result.code).toBe(report.ok ? 0 : 1);
      // Nothing on stderr but the summary of what went stale.
      expect(result.stderr, `writer ${writer}`).toEqual(report.ok ? '' : expect.stringMatching(/^statics: \d+ stale \(/));
      return report;
    });

    let staleSeen = 0;
    for (let index = 0; index < DOCUMENTS; index++) {
      const key = `load/flags/${documentName(index)}`;
      const appliedRevisions = new Set<string>();
      for (const [writer, report] of reports.entries()) {
        const result = report.results.find((r) => r.key === key)!;
        // Losing writers see stale; nothing fails and nothing is overwritten.
        expect(['applied', 'stale']).toContain(result.outcome);
        if (result.outcome === 'applied') appliedRevisions.add(revisionOf(writer, index));
        else staleSeen++;
      }
      const current = (await store.readCurrent([key])).get(key)!;
      const chain = current.transitions;
      expect(chain[0]!.revision).toBe(current.revision);
      for (let i = 0; i + 1 < chain.length; i++) expect(chain[i]!.previous, `${key} chain`).toBe(chain[i + 1]!.revision);
      expect(chain[chain.length - 1]!.previous).toBeNull();
      // Exactly the reported successes, and each revision intact.
      expect(new Set(chain.map((t) => t.revision))).toEqual(appliedRevisions);
      for (const transition of chain) {
        const stored = await store.getRevision(key, transition.revision!);
        expect(createHash('sha256').update(stored!.bytes).digest('hex')).toBe(transition.revision);
      }
      expect(await redis.get(`${namespace}load:flags:${documentName(index)}`)).toBe(current.revision);
    }
    // With eight writers racing, most lose at least once: the check above is not vacuous.
    expect(staleSeen).toBeGreaterThan(0);
    expect(await redis.keys(`${namespace}lock:*`)).toEqual([]);
  });

  it('a writer whose lock expired while it stalled does not move current over a newer revision', async () => {
    const { env, store, redis, namespace } = await target();
    const shortLease = { 'statics.yaml': 'lockTtl: 600ms\n' };
    const stalled = await writerRepository(1, 1, shortLease);
    const other = await writerRepository(2, 1, shortLease);
    const key = `load/flags/${documentName(0)}`;

    // Writer 1 stops itself (SIGSTOP) right after writing its revision, holding the lock.
    const stalledRun = runCli(['apply', stalled, '--auto-approve', '--format', 'json'], { env: { ...env, STATICS_FAILPOINT: 'revision-written:stop' } });
    const lockKey = `${namespace}lock:load:flags:${documentName(0)}`;
    await waitFor(async () => (await redis.exists(lockKey)) === 1);
    const holder = JSON.parse((await redis.get(lockKey))!) as { pid: number };
    await waitFor(async () => (await readFile(`/proc/${holder.pid}/stat`, 'utf8')).split(' ')[2] === 'T');

    // Its lease runs out; writer 2 takes the lock and moves current.
    const otherResult = await runCli(['apply', other, '--auto-approve'], { env });
    expect(otherResult.code).toBe(0);
    expect((await store.readCurrent([key])).get(key)!.revision).toBe(revisionOf(2, 0));

    process.kill(holder.pid, 'SIGCONT');
    const result = await stalledRun;
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as ApplyReport;
    expect(report.results[0]).toMatchObject({ key, outcome: 'failed' });
    expect(report.results[0]!.error).toMatch(/lost the lock/);
    const current = (await store.readCurrent([key])).get(key)!;
    expect(current.revision).toBe(revisionOf(2, 0));
    expect(current.transitions).toHaveLength(1);
    expect(await redis.get(`${namespace}load:flags:${documentName(0)}`)).toBe(revisionOf(2, 0));
  });
});
