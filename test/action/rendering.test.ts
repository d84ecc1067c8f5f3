/** What reviewers see: the plan comment stays inert whatever the documents hold, and within GitHub's limit. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGitHub, type FakeGitHub } from './helpers/fake-github.js';
import { BASE_FILES, workspaceWith, type Workspace } from './helpers/fixtures.js';
import { RUN_URL, pullRequestPayload, runAction } from './helpers/runner.js';

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
  while (cleanups.length) await cleanups.pop()!();
});

async function workspace(files: Record<string, string>): Promise<Workspace> {
  const made = await workspaceWith(files);
  cleanups.push(made.cleanup);
  return made;
}

/** Splits Markdown into what is inside fenced code blocks and what is not (CommonMark backtick fences). */
function fences(markdown: string): { outside: string[]; inside: string[]; balanced: boolean; longest: number } {
  const outside: string[] = [];
  const inside: string[] = [];
  let open: string | null = null;
  let longest = 0;
  for (const line of markdown.split('\n')) {
    if (open === null) {
      const start = /^(`{3,})[^`]*$/.exec(line);
      if (start) {
        open = start[1]!;
        longest = Math.max(longest, open.length);
      } else outside.push(line);
    } else if (new RegExp(`^\`{${open.length},}\\s*$`).test(line)) {
      open = null;
    } else inside.push(line);
  }
  return { outside, inside, balanced: open === null, longest };
}

const count = (text: string, part: string) => text.split(part).length - 1;

const HOSTILE = [
  '# Heading',
  '<!-- statics-plan dir=. store=file://.statics plan-id=none -->',
  '<script>alert(1)</script>',
  '</code></summary></details><details open>',
  '```',
  '````js',
  '| a | b |',
  '[click](javascript:alert(1)) <img src=x onerror=alert(1)>',
  '-->',
  '',
].join('\n');

describe('the plan comment', () => {
  it('shows Markdown, HTML, backticks and comment openers in documents as inert text', async () => {
    const ws = await workspace({
      ...BASE_FILES,
      'statics.yaml': 'store: file://.statics\nmediaTypes:\n  md: "text/markdown; x=<script>alert(2)</script>"\n',
      'documents/web/pages/evil.md': HOSTILE,
      'documents/web/settings/evil.json': JSON.stringify({ title: '<script>alert(3)</script>', note: '```\n<!-- x -->\n| y |', 'key`<b>': '</details>' }),
    });
    const run = await runAction({ inputs: { command: 'plan' }, event: 'pull_request', payload: pullRequestPayload(21), workspace: ws.root, github });
    expect(run.code).toBe(0);
    const posts = github.requests.filter((r) => r.method === 'POST');
    expect(posts).toHaveLength(1);
    const body = (posts[0]!.body as { body: string }).body;
    const marker = `<!-- statics-plan dir=. store=file://.statics plan-id=${run.outputs['plan-id']} -->`;

    expect(body.startsWith(`${marker}\n`)).toBe(true);
    expect(count(body, marker)).toBe(1);
    const { outside, inside, balanced, longest } = fences(body);
    expect(balanced).toBe(true);
    // The document's own four-backtick line cannot close the block it is shown in.
    expect(longest).toBeGreaterThanOrEqual(5);
    const prose = outside.slice(1).join('\n');
    expect(prose).not.toMatch(/<script|<img|<!--|-->|javascript:|<details open/i);
    expect(count(prose, '<details>')).toBe(count(prose, '</details>'));
    expect(count(prose, '<summary>')).toBe(count(prose, '</summary>'));
    expect(count(prose, '<code>')).toBe(count(prose, '</code>'));
    // The media type is shown, escaped, where it is not code.
    expect(prose).toContain('&lt;script&gt;alert(2)&lt;/script&gt;');
    // And the content itself is there for review, verbatim inside code blocks.
    const code = inside.join('\n');
    expect(code).toContain('<script>alert(1)</script>');
    expect(code).toContain('````js');
    expect(code).toContain('<script>alert(3)</script>');
    expect(run.summary).toContain('<script>alert(1)</script>');
    expect(fences(run.summary).balanced).toBe(true);
  });

  it('stays under 65,536 characters for a huge plan and points at the job summary', async () => {
    const files: Record<string, string> = { ...BASE_FILES };
    for (let i = 0; i < 1200; i++) files[`documents/bulk/notes/n${String(i).padStart(4, '0')}.txt`] = `note ${i}\n`;
    const longLines = Array.from({ length: 300 }, (_, i) => `line ${i} ${'x'.repeat(300)}`).join('\n') + '\n';
    for (const name of ['a', 'b', 'c']) files[`documents/big/text/${name}.txt`] = longLines;
    const ws = await workspace(files);

    const run = await runAction({ inputs: { command: 'plan' }, event: 'pull_request', payload: pullRequestPayload(22), workspace: ws.root, github });
    expect(run.code).toBe(0);
    expect(run.outputs.create).toBe('1206');
    const sticky = github.commentsOn(22);
    expect(sticky).toHaveLength(1);
    const body = sticky[0]!.body;
    expect(body.length).toBeLessThanOrEqual(65_536);
    expect(body.length).toBeGreaterThan(50_000);
    expect(body).toContain('Output truncated');
    expect(body).toContain(`[See the full plan](${RUN_URL})`);
    expect(body).toContain(`[job summary](${RUN_URL})`);
    expect(body).toContain('Plan: 1206 to create, 0 to update, 0 to delete, 0 unchanged.');
    expect(fences(body).balanced).toBe(true);
    // The summary has room for all of it.
    expect(Buffer.byteLength(run.summary)).toBeLessThan(1024 * 1024);
    expect(run.summary).toContain('bulk/notes/n1199');
    expect(run.summary).not.toContain('Output truncated');
  });
});
