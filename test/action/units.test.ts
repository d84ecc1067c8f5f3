/** The action's pure parts: the comment marker and fitting Markdown into GitHub's byte limits. */
import { describe, expect, it } from 'vitest';
import { fitApplyMarkdown, fitPlanMarkdown } from '../../src/action/fit.js';
import { encodeMarkerValue, markerLine, parseMarker, sameTarget } from '../../src/action/marker.js';
import type { ApplyReport, EntryResult, Plan, PlanEntry } from '../../src/model.js';

const ID = 'f'.repeat(64);

describe('the comment marker', () => {
  it('round-trips any directory and store without anything that could end the HTML comment', () => {
    const target = { dir: 'conf ig/--!>x%<y>', store: 's3://bucket/pre fix-->' };
    const line = markerLine({ ...target, planId: ID });
    expect(line.slice(4, -3)).not.toMatch(/[<>!]/);
    expect(line).toMatch(/^<!-- statics-plan dir=\S+ store=\S+ plan-id=f{64} -->$/);
    expect(parseMarker(`${line}\n### plan`)).toEqual({ ...target, planId: ID });
    expect(encodeMarkerValue('config/prod-eu')).toBe('config/prod-eu');
    expect(encodeMarkerValue('s3://b/p')).toBe('s3://b/p');
  });

  it('counts only a well-formed marker on the first line', () => {
    const line = markerLine({ dir: '.', store: 'file://.statics', planId: null });
    expect(parseMarker(line)?.planId).toBeNull();
    expect(parseMarker(`quoted:\n${line}`)).toBeNull();
    expect(parseMarker(line.replace('plan-id=none', 'plan-id=xyz'))).toBeNull();
    expect(parseMarker(line.replace('dir=.', 'dir=%E0%A4%A'))).toBeNull();
    expect(() => markerLine({ dir: '.', store: 'x', planId: 'not-a-digest' })).toThrow();
    expect(sameTarget({ dir: '', store: 'a' }, { dir: '.', store: 'a' })).toBe(true);
    expect(sameTarget({ dir: '.', store: 'a' }, { dir: '.', store: 'b' })).toBe(false);
  });
});

function planOf(entries: PlanEntry[]): Plan {
  return {
    format: 'statics-plan',
    formatVersion: 1,
    id: ID,
    createdAt: '2026-01-01T00:00:00.000Z',
    tool: { name: 'statics', version: '0.0.0' },
    source: { dir: '/repo' },
    store: 's3://bucket',
    options: { prune: false, targets: [] },
    summary: { create: entries.length, update: 0, delete: 0, unchanged: 0 },
    entries,
  };
}

describe('fitting the job summary into bytes', () => {
  it('cuts a plan of multi-byte text by bytes, not characters', () => {
    const diff = Array.from({ length: 150 }, (_, i) => `+€€€€ ${i} ${'語'.repeat(40)}`).join('\n');
    const entries: PlanEntry[] = Array.from({ length: 60 }, (_, i) => ({
      key: `d/t/doc${String(i).padStart(3, '0')}`,
      action: 'create',
      base: null,
      revision: 'a'.repeat(64),
      mediaType: 'text/plain',
      kind: 'text',
      size: 10,
      change: { kind: 'text', diff, added: 150, removed: 0 },
    }));
    const plan = planOf(entries);
    const whole = fitPlanMarkdown(plan, 50_000_000);
    expect(Buffer.byteLength(whole)).toBeGreaterThan(2 * whole.length);
    const fitted = fitPlanMarkdown(plan, 100_000, 'https://github.example/run');
    expect(Buffer.byteLength(fitted)).toBeLessThanOrEqual(100_000);
    expect(Buffer.byteLength(fitted)).toBeGreaterThan(80_000);
    expect(fitted).toContain('Output truncated');
    expect(fitted).toContain('d/t/doc059');
  });

  it('keeps stale and failed results first when an apply report does not fit', () => {
    const results: EntryResult[] = Array.from({ length: 5000 }, (_, i) => ({
      key: `d/t/doc${i}`,
      action: 'update',
      outcome: i === 4990 ? 'failed' : i === 4999 ? 'stale' : 'applied',
      base: 'b'.repeat(64),
      revision: 'c'.repeat(64),
      ...(i === 4990 ? { error: 'lock lost' } : {}),
      ...(i === 4999 ? { actual: 'd'.repeat(64) } : {}),
    }));
    const report: ApplyReport = { planId: ID, store: 's3://bucket', results, summary: { applied: 4998, alreadyCurrent: 0, stale: 1, failed: 1, repaired: 0 }, ok: false };
    const fitted = fitApplyMarkdown(report, 30_000, 'See the log.');
    expect(Buffer.byteLength(fitted)).toBeLessThanOrEqual(30_000);
    expect(fitted).toContain('d/t/doc4990');
    expect(fitted).toContain('d/t/doc4999');
    expect(fitted).toMatch(/\d+ of 5000 results shown \(stale and failed ones first\)\. See the log\./);
    expect(fitted).toContain('4998 applied');
    expect(fitApplyMarkdown({ ...report, results: results.slice(0, 3) }, 30_000, 'x')).not.toContain('results shown');
  });
});
