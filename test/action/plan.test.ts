/** command: plan on pull requests, run from dist/ as the runner runs it. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BOT, HUMAN, startFakeGitHub, type FakeGitHub } from './helpers/fake-github.js';
import { workspaceWith, type Workspace } from './helpers/fixtures.js';
import { RUN_URL, TOKEN, pullRequestPayload, pushPayload, runAction, type ActionRun } from './helpers/runner.js';

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
  github.readOnly = false;
  while (cleanups.length) await cleanups.pop()!();
});

async function workspace(...args: Parameters<typeof workspaceWith>): Promise<Workspace> {
  const made = await workspaceWith(...args);
  cleanups.push(made.cleanup);
  return made;
}

function plan(ws: Workspace, number: number, inputs: Record<string, string> = {}, options: { fork?: boolean } = {}): Promise<ActionRun> {
  return runAction({ inputs: { command: 'plan', ...inputs }, event: 'pull_request', payload: pullRequestPayload(number, options), workspace: ws.root, github, ref: `refs/pull/${number}/merge` });
}

function apply(ws: Workspace, inputs: Record<string, string> = {}): Promise<ActionRun> {
  const sha = 'abc0000000000000000000000000000000000001';
  return runAction({ inputs: { command: 'apply', ...inputs }, event: 'push', payload: pushPayload(sha), workspace: ws.root, github, sha });
}

const botComments = (issue: number) => github.commentsOn(issue).filter((c) => c.user.type === 'Bot');
const writes = () => github.requests.filter((r) => r.method === 'POST' || r.method === 'PATCH');

describe('plan on a pull request', () => {
  it('writes the summary, sets the outputs and keeps exactly one comment, updated in place even on page 2', async () => {
    const ws = await workspace();
    // 150 comments first, so the plan comment lands on page 2 of a 100-per-page listing; one of
    // them is a hand-written copy of the marker, which must never be taken for the plan comment.
    github.addComment(7, '<!-- statics-plan dir=. store=file://.statics plan-id=none -->\nforged', HUMAN);
    for (let i = 1; i < 150; i++) github.addComment(7, `comment ${i}`, i % 2 ? HUMAN : BOT);

    const first = await plan(ws, 7);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.outputs).toMatchObject({ 'has-changes': 'true', create: '3', update: '0', delete: '0', unchanged: '0' });
    const planId = first.outputs['plan-id']!;
    expect(planId).toMatch(/^[0-9a-f]{64}$/);
    expect(first.outputs['plan-file']).toMatch(/runner-temp[\\/]statics-plan\.json$/);
    const saved = JSON.parse(first.planFile!);
    expect(saved.format).toBe('statics-plan');
    expect(saved.id).toBe(planId);
    expect(saved.entries.map((e: { key: string }) => e.key)).toEqual(['edge/robots/default', 'payments/feature-flags/checkout', 'payments/feature-flags/refunds']);
    expect(first.summary).toContain('Plan: 3 to create, 0 to update, 0 to delete, 0 unchanged.');
    expect(first.summary).toContain('payments/feature-flags/checkout');
    expect(first.stdout).toContain('Plan: 3 to create');

    const posts = github.requests.filter((r) => r.method === 'POST');
    expect(posts).toHaveLength(1);
    expect(posts[0]!.authorization).toBe(`token ${TOKEN}`);
    const mine = botComments(7).filter((c) => c.body.startsWith('<!-- statics-plan'));
    expect(mine).toHaveLength(1);
    const sticky = mine[0]!;
    expect(sticky.body.split('\n')[0]).toBe(`<!-- statics-plan dir=. store=file://.statics plan-id=${planId} -->`);
    expect(sticky.body).toContain('Plan: 3 to create');
    expect(sticky.body).toContain(RUN_URL);
    expect(first.outputs['comment-url']).toContain(`#issuecomment-${sticky.id}`);
    // The forged comment was neither taken nor touched.
    expect(github.commentsOn(7)[0]!.body).toContain('forged');

    // A new commit on the pull request: the same comment is updated, no second one.
    await ws.write('documents/payments/feature-flags/refunds.json', '{"owner": "payments-team", "enabled": true}');
    github.requests.length = 0;
    const second = await plan(ws, 7);
    expect(second.code).toBe(0);
    expect(second.outputs['plan-id']).not.toBe(planId);
    const listings = github.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/issues/7/comments'));
    expect(listings.map((r) => r.query.page ?? '1')).toEqual(['1', '2']);
    expect(listings[0]!.query.per_page).toBe('100');
    expect(writes().map((r) => `${r.method} ${r.path}`)).toEqual([`PATCH /repos/acme/config/issues/comments/${sticky.id}`]);
    expect(github.commentsOn(7)).toHaveLength(151);
    expect(botComments(7).filter((c) => c.body.startsWith('<!-- statics-plan'))).toHaveLength(1);
    expect(sticky.body.split('\n')[0]).toBe(`<!-- statics-plan dir=. store=file://.statics plan-id=${second.outputs['plan-id']} -->`);
    expect(github.commentsOn(7)[0]!.body).toContain('forged');
  });

  it('keeps one comment per directory and store, and never comments on another pull request', async () => {
    const ws = await workspace();
    expect((await plan(ws, 7)).code).toBe(0);
    expect((await plan(ws, 7, { store: 'file://other-store' })).code).toBe(0);
    expect((await plan(ws, 8)).code).toBe(0);
    const markers = botComments(7).map((c) => c.body.split('\n')[0]);
    expect(markers).toHaveLength(2);
    expect(markers[0]).toContain('store=file://.statics ');
    expect(markers[1]).toContain('store=file://other-store ');
    expect(botComments(8)).toHaveLength(1);
  });

  it('comment: changes-only stays silent without changes, but turns an earlier comment into "no changes"', async () => {
    const ws = await workspace();
    expect((await apply(ws)).code).toBe(0);

    const quiet = await plan(ws, 9, { comment: 'changes-only' });
    expect(quiet.code).toBe(0);
    expect(quiet.outputs['has-changes']).toBe('false');
    expect(quiet.outputs.unchanged).toBe('3');
    expect(quiet.summary).toContain('No changes. 3 documents match the store.');
    expect(writes()).toEqual([]);
    expect(github.commentsOn(9)).toEqual([]);

    // An earlier plan of this pull request showed changes; it must not stay up looking current.
    const old = github.addComment(9, `<!-- statics-plan dir=. store=file://.statics plan-id=${'a'.repeat(64)} -->\n### statics plan\nPlan: 1 to create`);
    const updated = await plan(ws, 9, { comment: 'changes-only' });
    expect(updated.code).toBe(0);
    expect(writes().map((r) => r.method)).toEqual(['PATCH']);
    expect(old.body).toContain('No changes. 3 documents match the store.');
    expect(old.body).not.toContain('1 to create');

    // comment: false never writes, even with changes.
    await ws.write('documents/edge/robots/default.txt', 'User-agent: *\n');
    github.requests.length = 0;
    const off = await plan(ws, 9, { comment: 'false' });
    expect(off.code).toBe(0);
    expect(off.outputs['has-changes']).toBe('true');
    expect(github.requests).toEqual([]);
  });

  it('on a fork (read-only token) warns, keeps the summary and succeeds', async () => {
    const ws = await workspace();
    github.readOnly = true;
    const run = await plan(ws, 11, {}, { fork: true });
    expect(run.code).toBe(0);
    expect(run.summary).toContain('Plan: 3 to create');
    expect(run.outputs['has-changes']).toBe('true');
    const warnings = run.annotations.filter((a) => a.level === 'warning');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toContain('Resource not accessible by integration');
    expect(warnings[0]!.message).toContain('fork');
    expect(run.annotations.filter((a) => a.level === 'error')).toEqual([]);
    expect(github.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(github.commentsOn(11)).toEqual([]);
  });

  it('annotates every invalid document on its file and line, relative to the workspace, and fails', async () => {
    const ws = await workspace(undefined, 'config');
    await ws.write('documents/payments/feature-flags/broken.yaml', 'enabled: true\nowner: [unclosed\n');
    await ws.write('documents/payments/feature-flags/wrong.yaml', 'enabled: "yes"\nowner: payments-team\n');
    for (let i = 0; i < 10; i++) await ws.write(`documents/search/feature-flags/f${i}.json`, `{\n  "enabled": true,\n  "owner": ${i}\n}\n`);
    // An earlier plan comment must not keep showing a plan that no longer holds.
    const old = github.addComment(12, `<!-- statics-plan dir=config store=file://config/.statics plan-id=${'b'.repeat(64)} -->\nPlan: 3 to create`);

    const run = await plan(ws, 12, { dir: 'config' });
    expect(run.code).toBe(1);
    const errors = run.annotations.filter((a) => a.level === 'error');
    const located = errors.filter((a) => a.properties.file);
    expect(located).toHaveLength(12);
    const wrong = located.find((a) => a.properties.file === 'config/documents/payments/feature-flags/wrong.yaml');
    expect(wrong?.properties).toMatchObject({ line: '1', col: expect.stringMatching(/^\d+$/) });
    expect(wrong?.message).toMatch(/enabled|boolean/);
    const broken = located.find((a) => a.properties.file === 'config/documents/payments/feature-flags/broken.yaml');
    expect(Number(broken?.properties.line)).toBeGreaterThanOrEqual(2);
    expect(located.find((a) => a.properties.file === 'config/documents/search/feature-flags/f7.json')?.properties.line).toBe('3');
    expect(run.stdout).toMatch(/::error file=config\/documents\/[^,]+,line=\d+,col=\d+::/);
    expect(run.stdout).toContain('GitHub shows only the first 10 error annotations');
    // The step fails with one line saying why.
    expect(errors.at(-1)!.message).toBe('statics plan: 12 problems found; nothing was changed');
    expect(run.summary).toContain('statics plan failed');
    expect(run.summary).toContain('config/documents/payments/feature-flags/wrong.yaml:1');
    expect(run.outputs['plan-id']).toBeUndefined();
    expect(old.body.split('\n')[0]).toBe('<!-- statics-plan dir=config store=file://config/.statics plan-id=none -->');
    expect(old.body).toContain('12 problems in the desired documents');
    expect(github.commentsOn(12)).toHaveLength(1);
  });

  it('refuses events that do not fit the command, saying which one does', async () => {
    const ws = await workspace();
    const onPull = await runAction({ inputs: { command: 'apply' }, event: 'pull_request', payload: pullRequestPayload(5), workspace: ws.root, github });
    expect(onPull.code).toBe(1);
    expect(onPull.annotations.at(-1)!.message).toContain('use command: plan on pull_request');
    const onComment = await runAction({ inputs: { command: 'plan' }, event: 'issue_comment', payload: {}, workspace: ws.root, github });
    expect(onComment.code).toBe(1);
    expect(onComment.annotations.at(-1)!.message).toContain('does not run on issue_comment events');
    const badInput = await plan(ws, 5, { comment: 'sometimes' });
    expect(badInput.code).toBe(1);
    expect(badInput.annotations.at(-1)!.message).toContain('true, changes-only or false');
    expect(github.requests).toEqual([]);
    expect(await ws.currents()).toEqual(new Map([['edge/robots/default', null], ['payments/feature-flags/checkout', null], ['payments/feature-flags/refunds', null]]));
  });
});
