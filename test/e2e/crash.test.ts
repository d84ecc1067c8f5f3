/**
 * A process killed (SIGKILL) at each point of an apply leaves no `current` pointing at a missing
 * revision, and the next apply converges: documents, Redis mirror, and locks whose holder died.
 */
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ApplyReport } from '../../src/model.js';
import { repositoryOf, runCli } from '../support/cli.js';
import { freshTarget, startServices, waitFor, type Services, type Target } from '../support/services.js';

let services: Services;
const cleanups: Array<() => Promise<void>> = [];
beforeAll(async () => {
  services = await startServices();
});
afterAll(async () => services?.stop());
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const DOCUMENTS = 6;

async function setup(): Promise<{ target: Target; dir: string; expected: Map<string, string> }> {
  const target = await freshTarget(services);
  cleanups.push(target.close);
  const files: Record<string, string> = { 'statics.yaml': 'lockTtl: 1s\n' };
  const expected = new Map<string, string>();
  for (let index = 0; index < DOCUMENTS; index++) {
    files[`documents/app/settings/s${index}.yaml`] = `value: ${index}\n`;
    expected.set(`app/settings/s${index}`, createHash('sha256').update(`{\n  "value": ${index}\n}\n`).digest('hex'));
  }
  const repo = await repositoryOf(files);
  cleanups.push(repo.cleanup);
  return { target, dir: repo.dir, expected };
}

/** Every `current` points at a stored revision whose bytes hash to its name. */
async function expectNoDanglingCurrent(target: Target): Promise<number> {
  const listing = await target.store.listCurrent();
  const records = await target.store.readCurrent([...listing.keys()]);
  for (const [key, record] of records) {
    const stored = await target.store.getRevision(key, record!.revision);
    expect(stored, `${key} points at a missing revision`).not.toBeNull();
    expect(createHash('sha256').update(stored!.bytes).digest('hex')).toBe(record!.revision);
  }
  return records.size;
}

describe('crash safety', () => {
  for (const point of ['locked', 'revision-written', 'current-moved', 'recorded'] as const) {
    it(`converges after a SIGKILL once a document is ${point}`, async () => {
      const { target, dir, expected } = await setup();
      // One document at a time, so the kill lands exactly at the point: s3rver truncates an
      // object's file when a PUT starts, so a kill during another document's PUT would leave a
      // torn object that S3, whose PUTs are atomic, never shows.
      const crashed = await runCli(['apply', dir, '--auto-approve', '--parallelism', '1'], { env: { ...target.env, STATICS_FAILPOINT: point } });
      expect(crashed.code).toBe(-1); // killed by the signal, no exit code
      await expectNoDanglingCurrent(target);
      if (point === 'locked' || point === 'revision-written') {
        // The dead holder's lock is still there, until its TTL runs out.
        expect((await target.redis.keys(`${target.namespace}lock:*`)).length).toBeGreaterThan(0);
      }

      const rerun = await runCli(['apply', dir, '--auto-approve', '--format', 'json'], { env: target.env });
      expect(rerun.stderr).toBe('');
      expect(rerun.code).toBe(0);
      const report = JSON.parse(rerun.stdout) as ApplyReport;
      expect(report.ok).toBe(true);
      if (point === 'current-moved') expect(report.summary.repaired).toBeGreaterThanOrEqual(1);

      expect(await expectNoDanglingCurrent(target)).toBe(DOCUMENTS);
      const records = await target.store.readCurrent([...expected.keys()]);
      for (const [key, revision] of expected) {
        expect(records.get(key)?.revision).toBe(revision);
        expect(await target.redis.get(`${target.namespace}${key.replaceAll('/', ':')}`)).toBe(revision);
      }
      // The rerun leaves no lock of its own. A dead holder's lock on a document the rerun had no
      // reason to touch (it was done before the kill) is left to its TTL, so it must carry one.
      for (const lock of await target.redis.keys(`${target.namespace}lock:*`)) {
        const ttl = await target.redis.pttl(lock);
        expect(ttl === -2 || (ttl > 0 && ttl <= 1000), `${lock} has ttl ${ttl}`).toBe(true);
      }
      await waitFor(async () => (await target.redis.keys(`${target.namespace}lock:*`)).length === 0, 5_000);

      const plan = await runCli(['plan', dir, '--detailed-exitcode'], { env: target.env });
      expect(plan.code).toBe(0);
    });
  }
});
