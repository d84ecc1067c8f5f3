/** command: apply on push to the default branch, run from dist/ as the runner runs it. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGitHub, type FakeGitHub } from './helpers/fake-github.js';
import { BASE_KEYS, workspaceWith, type Workspace } from './helpers/fixtures.js';
import { pullRequestPayload, pushPayload, runAction, type ActionRun } from './helpers/runner.js';

let github: FakeGitHub;
beforeAll(async () => {
  github = await startFakeGitHub();
});
afterAll(async () => {
  await github.stop();
});

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  github.comments.length = 0;
  github.requests.length = 0;
  github.pullsOfCommit.clear();
  while (cleanups.length) await cleanups.pop()!();
});

async function workspace(): Promise<Workspace> {
  const made = await workspaceWith();
  cleanups.push(made.cleanup);
  return made;
}

const MERGE_SHA = 'abc0000000000000000000000000000000000007';

function apply(ws: Workspace, inputs: Record<string, string> = {}, ref = 'refs/heads/main'): Promise<ActionRun> {
  return runAction({ inputs: { command: 'apply', ...inputs }, event: 'push', payload: pushPayload(MERGE_SHA, ref), workspace: ws.root, github, sha: MERGE_SHA, ref });
}

function plan(ws: Workspace, number: number): Promise<ActionRun> {
  return runAction({ inputs: { command: 'plan' }, event: 'pull_request', payload: pullRequestPayload(number), workspace: ws.root, github, ref: `refs/pull/${number}/merge` });
}

const noneWritten = new Map(BASE_KEYS.map((key) => [key, null]));

describe('apply on push to the default branch', () => {
  it('writes the revisions, reports them and converges on a re-run', async () => {
    const ws = await workspace();
    const run = await apply(ws);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.outputs).toMatchObject({ 'has-changes': 'true', create: '3', update: '0', delete: '0', unchanged: '0', applied: '3', 'already-current': '0', stale: '0', failed: '0' });
    const saved = JSON.parse(run.planFile!);
    const currents = await ws.currents();
    // Each `current` names exactly the revision the plan carried.
    for (const entry of saved.entries) expect(currents.get(entry.key)).toBe(entry.revision);
    expect([...currents.values()].every((revision) => /^[0-9a-f]{64}$/.test(revision ?? ''))).toBe(true);
    expect(run.summary).toContain('Plan: 3 to create');
    expect(run.summary).toContain('Apply: 3 applied, 0 already current, 0 stale, 0 failed.');
    expect(run.summary.indexOf('Plan: 3 to create')).toBeLessThan(run.summary.indexOf('Apply: 3 applied'));
    expect(run.annotations.filter((a) => a.level === 'error')).toEqual([]);
    // Apply needs no GitHub API unless require-reviewed-plan asks for it.
    expect(github.requests).toEqual([]);

    const again = await apply(ws);
    expect(again.code).toBe(0);
    expect(again.outputs).toMatchObject({ 'has-changes': 'false', unchanged: '3', applied: '0' });
    expect(await ws.currents()).toEqual(currents);
  });

  it('fails the step naming every document not applied, and still applies the others', async () => {
    const ws = await workspace();
    // Another writer holds checkout's lock (fresh, long-lived): that document times out.
    const locks = path.join(ws.repo, '.statics', '.locks');
    await mkdir(locks, { recursive: true });
    await writeFile(
      path.join(locks, 'payments:feature-flags:checkout.lock'),
      JSON.stringify({ token: 'other', owner: { host: 'elsewhere', pid: 1, operation: 'apply', since: new Date().toISOString() }, ttlMs: 600_000 }) + '\n',
    );
    const run = await apply(ws, { 'lock-timeout': '300ms' });
    expect(run.code).toBe(1);
    expect(run.outputs).toMatchObject({ applied: '2', failed: '1', stale: '0' });
    const currents = await ws.currents();
    expect(currents.get('payments/feature-flags/checkout')).toBeNull();
    expect(currents.get('edge/robots/default')).toMatch(/^[0-9a-f]{64}$/);
    const errors = run.annotations.filter((a) => a.level === 'error');
    const onFile = errors.find((a) => a.properties.file === 'documents/payments/feature-flags/checkout.yaml');
    expect(onFile?.message).toMatch(/^payments\/feature-flags\/checkout: failed: .*lock/);
    expect(errors.at(-1)!.message).toContain('1 document was not applied (0 stale, 1 failed): payments/feature-flags/checkout (failed)');
    expect(run.summary).toContain('Apply: 2 applied, 0 already current, 0 stale, 1 failed.');
  });

  it('refuses other branches and pull requests, saying which command fits', async () => {
    const ws = await workspace();
    const branch = await apply(ws, {}, 'refs/heads/feature');
    expect(branch.code).toBe(1);
    expect(branch.annotations.at(-1)!.message).toContain('runs only on the default branch (main), not on refs/heads/feature');
    expect(await ws.currents()).toEqual(noneWritten);
  });
});

describe('require-reviewed-plan', () => {
  it('applies the plan last shown on the merged pull request', async () => {
    const ws = await workspace();
    const shown = await plan(ws, 7);
    expect(shown.code).toBe(0);
    github.pullsOfCommit.set(MERGE_SHA, [
      { number: 3, merged_at: null, merge_commit_sha: null, state: 'open' },
      { number: 7, merged_at: '2026-01-02T00:00:00Z', merge_commit_sha: MERGE_SHA, state: 'closed' },
    ]);
    const run = await apply(ws, { 'require-reviewed-plan': 'true' });
    expect(run.code).toBe(0);
    expect(run.outputs['plan-id']).toBe(shown.outputs['plan-id']);
    expect(run.outputs.applied).toBe('3');
    expect(run.stdout).toContain(`plan ${shown.outputs['plan-id']} is the one shown on pull request #7`);
    expect(github.requests.map((r) => `${r.method} ${r.path}`)).toEqual(expect.arrayContaining([
      `GET /repos/acme/config/commits/${MERGE_SHA}/pulls`,
      'GET /repos/acme/config/issues/7/comments',
    ]));
  });

  it('refuses, writing nothing, when the plan differs from the reviewed one or nothing was reviewed', async () => {
    const ws = await workspace();
    expect((await plan(ws, 7)).code).toBe(0);
    // The default branch moved after the review: the merged content is not what was shown.
    await ws.write('documents/edge/robots/default.txt', 'User-agent: *\nDisallow: /\n');
    github.pullsOfCommit.set(MERGE_SHA, [{ number: 7, merged_at: '2026-01-02T00:00:00Z', merge_commit_sha: MERGE_SHA, state: 'closed' }]);
    const changed = await apply(ws, { 'require-reviewed-plan': 'true' });
    expect(changed.code).toBe(1);
    expect(changed.annotations.at(-1)!.message).toContain('is not the one last shown on pull request #7');
    expect(changed.summary).toContain('statics apply failed');
    expect(await ws.currents()).toEqual(noneWritten);

    github.pullsOfCommit.clear();
    const direct = await apply(ws, { 'require-reviewed-plan': 'true' });
    expect(direct.code).toBe(1);
    expect(direct.annotations.at(-1)!.message).toContain(`commit ${MERGE_SHA} comes from no merged pull request`);
    expect(await ws.currents()).toEqual(noneWritten);
  });
});
