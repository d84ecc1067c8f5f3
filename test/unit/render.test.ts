import { describe, expect, it } from 'vitest';
import {
  codeBlock,
  escapeHtml,
  escapeMarkdown,
  fenceFor,
  formatPointer,
  formatValue,
  humanSize,
  renderApplyJson,
  renderApplyMarkdown,
  renderApplyText,
  renderHistoryText,
  renderPlanJson,
  renderPlanMarkdown,
  renderPlanText,
} from '../../src/render/index.js';
import type { ApplyReport, Plan, PlanEntry, Transition } from '../../src/model.js';

// Hand-built plans and reports: every action and change kind, plus content meant to break out.

const rev = (char: string) => char.repeat(64);

const createEntry: PlanEntry = {
  key: 'payments/feature-flags/checkout-v2',
  action: 'create',
  base: null,
  revision: rev('a'),
  mediaType: 'application/json',
  kind: 'structured',
  size: 312,
  path: 'documents/payments/feature-flags/checkout-v2.json',
  change: {
    kind: 'json-patch',
    patch: [
      { op: 'add', path: '/enabled', value: true },
      { op: 'add', path: '/rollout', value: { percent: 10, regions: ['eu-west-1'] } },
    ],
  },
};

const updateEntry: PlanEntry = {
  key: 'payments/feature-flags/checkout',
  action: 'update',
  base: rev('b'),
  revision: rev('c'),
  mediaType: 'application/json',
  kind: 'structured',
  size: 1300,
  change: {
    kind: 'json-patch',
    patch: [
      { op: 'replace', path: '/rollout/percent', value: 25, oldValue: 10 } as never,
      { op: 'replace', path: '/owner', value: 'team-b' },
      { op: 'add', path: '/regions/3', value: 'eu-west-1' },
      { op: 'remove', path: '/legacy', oldValue: true } as never,
      { op: 'remove', path: '/obsolete' },
      { op: 'add', path: '/limits/api.example.com/rate', value: 100 },
      { op: 'add', path: '/allowlist/2', value: 'x'.repeat(200) },
      { op: 'test', path: '/never-shown', value: 1 },
    ],
  },
};

const textEntry: PlanEntry = {
  key: 'web/pages/banner',
  action: 'update',
  base: rev('d'),
  revision: rev('e'),
  mediaType: 'text/plain',
  kind: 'text',
  size: 40,
  change: {
    kind: 'text',
    diff: '===================================================================\n--- current\n+++ desired\n@@ -1,2 +1,2 @@\n hello\n-old line\n+new line\n',
    added: 1,
    removed: 1,
  },
};

const binaryEntry: PlanEntry = {
  key: 'web/images/logo',
  action: 'update',
  base: rev('f'),
  revision: rev('1'),
  mediaType: 'image/png',
  kind: 'binary',
  size: 1331,
  change: { kind: 'binary', before: { size: 1229, sha256: rev('f') }, after: { size: 1331, sha256: rev('1') } },
};

const deleteEntry: PlanEntry = {
  key: 'web/pages/old',
  action: 'delete',
  base: rev('2'),
  revision: null,
  mediaType: 'text/html',
  kind: 'text',
  size: 2048,
};

const noop = (key: string): PlanEntry => ({
  key,
  action: 'no-op',
  base: rev('3'),
  revision: rev('3'),
  mediaType: 'application/json',
  kind: 'structured',
  size: 10,
});

function makePlan(entries: PlanEntry[]): Plan {
  const summary = { create: 0, update: 0, delete: 0, unchanged: 0 };
  for (const entry of entries) {
    if (entry.action === 'no-op') summary.unchanged++;
    else summary[entry.action]++;
  }
  return {
    format: 'statics-plan',
    formatVersion: 1,
    id: '3f2a9c1b04de' + '0'.repeat(52),
    createdAt: '2024-05-01T12:00:00.000Z',
    tool: { name: 'statics', version: '0.1.0' },
    source: { dir: '.', commit: '1234567890abcdef1234567890abcdef12345678' },
    store: 'file://.statics',
    options: { prune: true, targets: [] },
    summary,
    entries: [...entries].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
  };
}

function realisticPlan(): Plan {
  return makePlan([
    createEntry,
    updateEntry,
    textEntry,
    binaryEntry,
    deleteEntry,
    noop('payments/feature-flags/a'),
    noop('payments/feature-flags/b'),
  ]);
}

function noChangePlan(): Plan {
  return makePlan([noop('a/b/c'), noop('a/b/d'), noop('a/b/e')]);
}

/** A text update whose diff holds everything that could break out of Markdown. */
function hostileEntry(key = 'evil/docs/readme'): PlanEntry {
  const lines = [
    '```',
    '````',
    '<!-- x -->',
    '</details>',
    '<details><summary>fake</summary>',
    '<script>alert(1)</script>',
    '| a | b |',
    '*bold* _it_ [link](http://x)',
  ];
  return {
    key,
    action: 'update',
    base: rev('4'),
    revision: rev('5'),
    mediaType: 'text/markdown',
    kind: 'text',
    size: 100,
    change: {
      kind: 'text',
      diff: `--- current\n+++ desired\n@@ -1,8 +1,8 @@\n${lines.map((line) => `-${line}`).join('\n')}\n${lines.map((line) => `+${line} changed`).join('\n')}\n`,
      added: lines.length,
      removed: lines.length,
    },
  };
}

function hostileJsonEntry(): PlanEntry {
  return {
    key: 'evil/docs/json',
    action: 'create',
    base: null,
    revision: rev('6'),
    mediaType: 'application/json',
    kind: 'structured',
    size: 100,
    change: {
      kind: 'json-patch',
      patch: [
        { op: 'add', path: '/<script>', value: '</details>\n<!-- x -->\n```\n| pipe |' },
        { op: 'add', path: '/a|b', value: '````' },
      ],
    },
  };
}

function applyReport(): ApplyReport {
  return {
    planId: '3f2a9c1b04de' + '0'.repeat(52),
    store: 'file://.statics',
    results: [
      { key: 'a/b/applied', action: 'create', outcome: 'applied', base: null, revision: rev('a') },
      { key: 'a/b/current', action: 'update', outcome: 'already-current', base: rev('b'), revision: rev('c') },
      { key: 'a/b/stale', action: 'update', outcome: 'stale', base: rev('d'), revision: rev('e'), actual: 'ab12' + '9'.repeat(60) },
      { key: 'a/b/failed', action: 'delete', outcome: 'failed', base: rev('f'), revision: null, error: 'access denied\n| <b>x</b>' },
    ],
    summary: { applied: 1, alreadyCurrent: 1, stale: 1, failed: 1, repaired: 2 },
    ok: false,
  };
}

const ANSI = /\u001b\[/;

/** Splits Markdown into lines outside fenced code blocks, following CommonMark's fence rules. */
function scanFences(markdown: string): { outside: string[]; unclosed: boolean; fences: number } {
  const outside: string[] = [];
  let open: { char: string; length: number } | null = null;
  let fences = 0;
  for (const line of markdown.split('\n')) {
    if (open) {
      const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(line);
      if (close && close[1][0] === open.char && close[1].length >= open.length) open = null;
      continue;
    }
    const start = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(line);
    if (start && !(start[1][0] === '`' && start[2].includes('`'))) {
      open = { char: start[1][0], length: start[1].length };
      fences++;
      continue;
    }
    outside.push(line);
  }
  return { outside, unclosed: open !== null, fences };
}

function count(lines: string[], pattern: RegExp): number {
  return lines.reduce((n, line) => n + (line.match(pattern)?.length ?? 0), 0);
}

/** Table cells of one row: pipes not escaped by a backslash. */
function cellCount(row: string): number {
  let pipes = 0;
  for (let i = 0; i < row.length; i++) {
    if (row[i] === '\\') i++;
    else if (row[i] === '|') pipes++;
  }
  return pipes - 1;
}

function changedCount(entries: PlanEntry[]): number {
  return entries.filter((entry) => entry.action !== 'no-op').length;
}

describe('renderPlanText', () => {
  const plan = realisticPlan();
  const text = renderPlanText(plan, { color: false });
  const lines = text.split('\n');

  it('names the plan and the store in a header', () => {
    expect(lines[0]).toBe('Plan 3f2a9c1b04de against file://.statics');
  });

  it('ends with the exact summary line', () => {
    expect(text.endsWith('\nPlan: 1 to create, 3 to update, 1 to delete, 2 unchanged.\n')).toBe(true);
  });

  it('lists one line per changed entry with its sign, media type and size', () => {
    expect(text).toContain('+ create payments/feature-flags/checkout-v2 (application/json, 312 B)');
    expect(text).toContain('~ update payments/feature-flags/checkout (application/json, 1.3 KiB)');
    expect(text).toContain('~ update web/pages/banner (text/plain, 40 B)');
    expect(text).toContain('~ update web/images/logo (image/png, 1.3 KiB)');
    expect(text).toContain('- delete web/pages/old (text/html, 2.0 KiB)');
  });

  it('does not list no-op entries', () => {
    expect(text).not.toContain('payments/feature-flags/a ');
    expect(text).not.toContain('payments/feature-flags/b ');
  });

  it('shows patch operations with dotted paths and old → new values', () => {
    expect(lines).toContain('      ~ rollout.percent: 10 → 25');
    expect(lines).toContain('      ~ owner → "team-b"');
    expect(lines).toContain('      + regions[3]: "eu-west-1"');
    expect(lines).toContain('      - legacy: true');
    expect(lines).toContain('      - obsolete');
    expect(lines).toContain('      + limits["api.example.com"].rate: 100');
    expect(text).not.toContain('never-shown');
  });

  it('truncates long values to about 80 characters with …', () => {
    const line = lines.find((candidate) => candidate.includes('allowlist[2]'));
    expect(line).toBeDefined();
    const value = line!.split('allowlist[2]: ')[1];
    expect(value.endsWith('…')).toBe(true);
    expect(Array.from(value).length).toBe(80);
  });

  it('shows the top-level keys of a created structured document', () => {
    expect(lines).toContain('      + enabled: true');
    expect(lines).toContain('      + rollout: {"percent":10,"regions":["eu-west-1"]}');
  });

  it('shows text diffs without their file header', () => {
    expect(lines).toContain('      -old line');
    expect(lines).toContain('      +new line');
    expect(lines).toContain('       hello');
    expect(text).not.toContain('--- current');
    expect(text).not.toContain('+++ desired');
    expect(text).not.toContain('=====');
  });

  it('shows sizes and digests of binary changes', () => {
    expect(lines).toContain('      size 1.2 KiB → 1.3 KiB, sha256 ffffffffffff… → 111111111111…');
  });

  it('has no ANSI escapes without colour and some with it', () => {
    expect(text).not.toMatch(ANSI);
    const colored = renderPlanText(plan, { color: true });
    expect(colored).toMatch(ANSI);
    // The same words once the colours are taken out.
    expect(colored.replace(/\u001b\[[0-9;]*m/g, '')).toBe(text);
  });

  it('says when nothing changes and still prints the summary line', () => {
    const none = renderPlanText(noChangePlan(), { color: false });
    expect(none).toContain('No changes. 3 documents match the store.');
    expect(none.endsWith('\nPlan: 0 to create, 0 to update, 0 to delete, 3 unchanged.\n')).toBe(true);
    expect(text).not.toContain('No changes.');
  });

  it('caps long text diffs at 200 lines', () => {
    const body = Array.from({ length: 250 }, (_, i) => `+line ${i}`).join('\n');
    const entry: PlanEntry = {
      key: 'a/b/long',
      action: 'create',
      base: null,
      revision: rev('7'),
      mediaType: 'text/plain',
      kind: 'text',
      size: 3000,
      change: { kind: 'text', diff: `--- current\n+++ desired\n@@ -0,0 +1,250 @@\n${body}\n`, added: 250, removed: 0 },
    };
    const out = renderPlanText(makePlan([entry]), { color: false });
    expect(out).toContain('      +line 198');
    expect(out).not.toContain('+line 199\n');
    expect(out).toContain('      … 51 more lines');
  });

  it('escapes terminal control characters from user content', () => {
    const entry: PlanEntry = {
      key: 'a/b/ctl',
      action: 'update',
      base: rev('1'),
      revision: rev('2'),
      mediaType: 'text/plain',
      kind: 'text',
      size: 10,
      change: { kind: 'text', diff: '@@ -1 +1 @@\n-\u001b[31mred\n+\u202eevil\n', added: 1, removed: 1 },
    };
    const out = renderPlanText(makePlan([entry]), { color: false });
    expect(out).not.toMatch(/[\u001b\u202e]/);
    expect(out).toContain('-\\u001b[31mred');
  });
});

describe('renderPlanMarkdown', () => {
  const plan = makePlan([...realisticPlan().entries, hostileEntry(), hostileJsonEntry()]);
  const changed = changedCount(plan.entries);
  const markdown = renderPlanMarkdown(plan);
  const scan = scanFences(markdown);

  it('has a heading with the short id and store, and the full id somewhere', () => {
    expect(markdown.split('\n')[0]).toBe('### statics plan `3f2a9c1b04de` against `file://.statics`');
    expect(markdown).toContain(plan.id);
  });

  it('has a summary table and the summary line', () => {
    expect(markdown).toContain('| Create | Update | Delete | Unchanged |\n| ---: | ---: | ---: | ---: |\n| 2 | 4 | 1 | 2 |');
    expect(markdown).toContain('Plan: 2 to create, 4 to update, 1 to delete, 2 unchanged.');
  });

  it('has one table row per changed document with revisions', () => {
    const rows = scan.outside.filter((line) => /^\| (➕|✏️|🗑️) /.test(line));
    expect(rows).toHaveLength(changed);
    for (const row of rows) expect(cellCount(row)).toBe(5);
    expect(markdown).toContain(
      '| ✏️ update | `payments/feature-flags/checkout` | application/json | 1.3 KiB | `bbbbbbbbbbbb` → `cccccccccccc` |',
    );
    expect(markdown).toContain('| 🗑️ delete | `web/pages/old` | text/html | 2.0 KiB | `222222222222` → (none) |');
  });

  it('has exactly one details block per changed document, outside any fence', () => {
    expect(count(scan.outside, /<details>/g)).toBe(changed);
    expect(count(scan.outside, /<\/details>/g)).toBe(changed);
    expect(count(scan.outside, /<summary>/g)).toBe(changed);
  });

  it('keeps every fence closed', () => {
    expect(scan.unclosed).toBe(false);
    // Six documents have change lines; the delete has none.
    expect(scan.fences).toBe(changed - 1);
  });

  it('keeps hostile content inside fences', () => {
    expect(markdown).toContain('<script>alert(1)</script>');
    expect(scan.outside.join('\n')).not.toMatch(/<script|<!--|\| a \| b \|/);
    expect(markdown).toContain('`````diff');
  });

  it('shows JSON patch lines and text diffs in diff fences', () => {
    expect(markdown).toContain('```diff\n~ rollout.percent: 10 → 25\n');
    expect(markdown).toContain('```diff\n@@ -1,2 +1,2 @@\n hello\n-old line\n+new line\n```');
    expect(markdown).toContain('size 1.2 KiB → 1.3 KiB, sha256 ffffffffffff… → 111111111111…');
  });

  it('keeps hostile keys and media types inert in tables and summaries', () => {
    const entry: PlanEntry = {
      ...hostileEntry('evil|key\n<!-- x --></details>'),
      mediaType: 'text/x-<script>|*_[x]`',
    };
    const md = renderPlanMarkdown(makePlan([entry]));
    const s = scanFences(md);
    const outside = s.outside.join('\n');
    expect(s.unclosed).toBe(false);
    expect(count(s.outside, /<details>/g)).toBe(1);
    expect(count(s.outside, /<\/details>/g)).toBe(1);
    expect(outside).not.toMatch(/<script|<!--/);
    const row = s.outside.find((line) => line.startsWith('| ✏️'));
    expect(row).toBeDefined();
    expect(cellCount(row!)).toBe(5);
    expect(row).toContain('evil\\|key &lt;!-- x --&gt;&lt;/details&gt;');
    const summary = s.outside.find((line) => line.startsWith('<details>'));
    expect(summary).toContain('<code>evil|key &lt;!-- x --&gt;&lt;/details&gt;</code>');
  });

  it('renders a short body when nothing changes, with id and counts', () => {
    const md = renderPlanMarkdown(noChangePlan());
    expect(md).toContain('No changes. 3 documents match the store.');
    expect(md).toContain('Plan: 0 to create, 0 to update, 0 to delete, 3 unchanged.');
    expect(md).toContain(noChangePlan().id);
    expect(md).not.toContain('<details>');
  });

  it('is unchanged by a maxLength it fits in', () => {
    expect(renderPlanMarkdown(plan, { maxLength: markdown.length })).toBe(markdown);
    expect(markdown).not.toContain('Output truncated');
  });
});

describe('renderPlanMarkdown truncation', () => {
  const bigEntry = (i: number): PlanEntry => ({
    key: `big/docs/doc-${String(i).padStart(3, '0')}`,
    action: 'update',
    base: rev('1'),
    revision: rev('2'),
    mediaType: 'text/plain',
    kind: 'text',
    size: 5000,
    change: {
      kind: 'text',
      diff: `@@ -1,40 +1,40 @@\n${Array.from({ length: 40 }, (_, j) => `-old ${j} \`\`\`\n+new ${j} </details>`).join('\n')}\n`,
      added: 40,
      removed: 40,
    },
  });
  const plan = makePlan(Array.from({ length: 30 }, (_, i) => bigEntry(i)));
  const full = renderPlanMarkdown(plan);

  it('drops details from the end to fit, with a note and a link', () => {
    const maxLength = 20_000;
    expect(full.length).toBeGreaterThan(maxLength);
    const md = renderPlanMarkdown(plan, { maxLength, detailsUrl: 'https://ci.example.com/run/1' });
    expect(md.length).toBeLessThanOrEqual(maxLength);
    const scan = scanFences(md);
    expect(scan.unclosed).toBe(false);
    const shown = count(scan.outside, /<details>/g);
    expect(shown).toBeGreaterThan(0);
    expect(shown).toBeLessThan(30);
    expect(count(scan.outside, /<\/details>/g)).toBe(shown);
    expect(md).toContain(`Output truncated: ${30 - shown} documents not shown.`);
    expect(md).toContain('[See the full plan](https://ci.example.com/run/1)');
    // The first documents are kept, the last dropped; the table still lists all of them.
    expect(md).toContain('<code>big/docs/doc-000</code>');
    expect(md).not.toContain('<code>big/docs/doc-029</code>');
    expect(md).toContain('`big/docs/doc-029`');
    expect(md).toContain(plan.id);
    // Nothing more would have fitted.
    expect(md.length + 2000).toBeGreaterThan(maxLength);
  });

  it('drops table rows when even the table does not fit', () => {
    const many = makePlan(Array.from({ length: 300 }, (_, i) => ({ ...bigEntry(i), change: undefined })));
    const md = renderPlanMarkdown(many, { maxLength: 4000 });
    expect(md.length).toBeLessThanOrEqual(4000);
    expect(md).toContain('Output truncated: 300 documents not shown.');
    expect(md).toMatch(/\| … \| \d+ more documents not listed \|/);
    expect(md).not.toContain('<details>');
    expect(md).toContain('Plan: 0 to create, 300 to update, 0 to delete, 0 unchanged.');
  });

  it('never exceeds a tiny maxLength', () => {
    for (const maxLength of [0, 20, 100, 300]) {
      expect(renderPlanMarkdown(plan, { maxLength }).length).toBeLessThanOrEqual(maxLength);
    }
    expect(renderPlanMarkdown(plan, { maxLength: 300 })).toContain('Plan: 0 to create, 30 to update');
  });

  it('renders a non-http details URL as text, not a link', () => {
    const md = renderPlanMarkdown(plan, { maxLength: 20_000, detailsUrl: 'javascript:alert(1)' });
    expect(md).not.toContain('](javascript:');
    expect(md).toContain('See the full plan: javascript:alert(1)');
  });
});

describe('renderApplyText', () => {
  const report = applyReport();
  const text = renderApplyText(report, { color: false });

  it('shows one line per result with its outcome', () => {
    expect(text).toContain('✓ create a/b/applied: applied');
    expect(text).toContain('= update a/b/current: already current');
    expect(text).toContain('! update a/b/stale: stale: current is ab1299999999 (planned from dddddddddddd)');
    expect(text).toContain('✗ delete a/b/failed: failed: access denied\\n| <b>x</b>');
  });

  it('ends with the summary and the repairs', () => {
    expect(text.endsWith('\nApply: 1 applied, 1 already current, 1 stale, 1 failed. (2 mirror entries repaired)\n')).toBe(true);
    const clean = renderApplyText({ ...report, summary: { ...report.summary, repaired: 0 } }, { color: false });
    expect(clean.endsWith('\nApply: 1 applied, 1 already current, 1 stale, 1 failed.\n')).toBe(true);
  });

  it('colours only when asked', () => {
    expect(text).not.toMatch(ANSI);
    expect(renderApplyText(report, { color: true })).toMatch(ANSI);
  });
});

describe('renderApplyMarkdown', () => {
  const md = renderApplyMarkdown(applyReport());

  it('has the counts, one row per result and the full plan id', () => {
    expect(md).toContain('| 1 | 1 | 1 | 1 | 2 |');
    const rows = md.split('\n').filter((line) => /^\| (✅|🟰|⚠️|❌) /.test(line));
    expect(rows).toHaveLength(4);
    for (const row of rows) expect(cellCount(row)).toBe(5);
    expect(md).toContain(applyReport().planId);
    expect(md).toContain('Apply: 1 applied, 1 already current, 1 stale, 1 failed. (2 mirror entries repaired)');
  });

  it('keeps error messages inert', () => {
    expect(md).not.toContain('<b>');
    expect(md).toContain('&lt;b&gt;x&lt;/b&gt;');
  });
});

describe('renderHistoryText', () => {
  const transitions: Transition[] = [
    { revision: rev('c'), previous: rev('b'), at: '2024-05-03T00:00:00Z', action: 'rollback', actor: 'alice' },
    { revision: rev('b'), previous: rev('c'), at: '2024-05-02T00:00:00Z', action: 'apply', commit: 'abcdef0123456789abcdef0123456789abcdef01' },
    { revision: rev('c'), previous: null, at: '2024-05-01T00:00:00Z', action: 'apply' },
  ];

  it('lists transitions newest first and marks the current one', () => {
    const lines = renderHistoryText('a/b/c', transitions, rev('c'), { color: false }).split('\n');
    expect(lines[0]).toBe('History of a/b/c (current: cccccccccccc)');
    const entries = lines.filter((line) => line.includes(' → '));
    expect(entries).toHaveLength(3);
    expect(entries[0]).toBe('* 2024-05-03T00:00:00Z  rollback  bbbbbbbbbbbb → cccccccccccc  by alice  (current)');
    expect(entries[1]).toBe('  2024-05-02T00:00:00Z  apply     cccccccccccc → bbbbbbbbbbbb  commit abcdef012345');
    expect(entries[2]).toBe('  2024-05-01T00:00:00Z  apply     (none) → cccccccccccc');
  });

  it('marks nothing when the document has no current revision, and colours only when asked', () => {
    const text = renderHistoryText('a/b/c', transitions, null, { color: false });
    expect(text).not.toContain('(current)');
    expect(text).not.toMatch(ANSI);
    expect(renderHistoryText('a/b/c', transitions, rev('c'), { color: true })).toMatch(ANSI);
  });

  it('says so when there is no history', () => {
    expect(renderHistoryText('a/b/c', [], null, { color: false })).toContain('No transitions recorded.');
  });
});

describe('JSON renderings', () => {
  it('round-trip the plan and the report', () => {
    const plan = realisticPlan();
    const json = renderPlanJson(plan);
    expect(json.endsWith('}\n')).toBe(true);
    expect(JSON.parse(json)).toEqual(plan);
    expect(json).toBe(`${JSON.stringify(plan, null, 2)}\n`);
    expect(JSON.parse(renderApplyJson(applyReport()))).toEqual(applyReport());
  });
});

describe('helpers', () => {
  it('formats sizes in binary units', () => {
    expect(humanSize(0)).toBe('0 B');
    expect(humanSize(1023)).toBe('1023 B');
    expect(humanSize(1024)).toBe('1.0 KiB');
    expect(humanSize(1536)).toBe('1.5 KiB');
    expect(humanSize(1024 * 1024 - 1)).toBe('1.0 MiB');
    expect(humanSize(5 * 1024 * 1024)).toBe('5.0 MiB');
  });

  it('formats JSON pointers as dotted paths', () => {
    expect(formatPointer('')).toBe('(root)');
    expect(formatPointer('/rollout/percent')).toBe('rollout.percent');
    expect(formatPointer('/allowlist/2')).toBe('allowlist[2]');
    expect(formatPointer('/a~1b/c~0d')).toBe('["a/b"]["c~d"]');
    expect(formatPointer('/x/0/y-z')).toBe('x[0].y-z');
    expect(formatPointer('/with space')).toBe('["with space"]');
    expect(formatPointer('/list/-')).toBe('list[-]');
  });

  it('formats values on one line', () => {
    expect(formatValue('a\nb', 80)).toBe('"a\\nb"');
    expect(formatValue({ a: 1 }, 80)).toBe('{"a":1}');
    expect(formatValue('x'.repeat(100), 10)).toBe('"xxxxxxxx…');
  });

  it('escapes Markdown and HTML', () => {
    expect(escapeMarkdown('a|b\nc <!-- d --> *e* _f_ [g] `h` &')).toBe(
      'a\\|b c &lt;!-- d --&gt; \\*e\\* \\_f\\_ \\[g\\] \\`h\\` &amp;',
    );
    expect(escapeMarkdown('# title')).toBe('\\# title');
    expect(escapeMarkdown('1. item')).toBe('1\\. item');
    expect(escapeHtml('</summary>\n\n<script>"')).toBe('&lt;/summary&gt;  &lt;script&gt;&quot;');
  });

  it('chooses fences longer than any backtick run', () => {
    expect(fenceFor('plain')).toBe('```');
    expect(fenceFor('a ```` b')).toBe('`````');
    expect(codeBlock('x\n```\ny\n', 'diff')).toBe('````diff\nx\n```\ny\n````');
  });
});
