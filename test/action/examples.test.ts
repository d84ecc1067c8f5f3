/** The example workflows use the action as action.yml defines it, with least privilege. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../support/cli.js';
import { manifest } from './helpers/runner.js';

interface Step {
  uses?: string;
  with?: Record<string, unknown>;
}
interface Workflow {
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  concurrency: { group: string; 'cancel-in-progress': boolean };
  jobs: Record<string, { steps: Step[] }>;
}

async function workflow(name: string): Promise<{ spec: Workflow; statics: Step }> {
  const spec = parse(await readFile(path.join(PROJECT_ROOT, 'examples/workflows', name), 'utf8')) as Workflow;
  const steps = Object.values(spec.jobs).flatMap((job) => job.steps);
  const statics = steps.filter((step) => /\/statics@/.test(step.uses ?? ''));
  expect(statics).toHaveLength(1);
  const inputs = manifest().inputs;
  for (const input of Object.keys(statics[0]!.with ?? {})) expect(Object.keys(inputs), input).toContain(input);
  return { spec, statics: statics[0]! };
}

describe('the example workflows', () => {
  it('plan on pull requests, writing only the comment', async () => {
    const { spec, statics } = await workflow('plan.yml');
    expect(Object.keys(spec.on)).toEqual(['pull_request']);
    expect(statics.with?.command).toBe('plan');
    expect(statics.with).not.toHaveProperty('redis-url');
    expect(spec.permissions).toEqual({ contents: 'read', 'pull-requests': 'write', 'id-token': 'write' });
  });

  it('apply on push to the default branch, one at a time, never cancelled', async () => {
    const { spec, statics } = await workflow('apply.yml');
    expect(spec.on.push).toMatchObject({ branches: ['main'] });
    expect(statics.with?.command).toBe('apply');
    expect(statics.with?.['redis-url']).toBe('${{ secrets.REDIS_URL }}');
    expect(spec.permissions).toEqual({ contents: 'read', 'pull-requests': 'read', 'id-token': 'write' });
    expect(spec.concurrency['cancel-in-progress']).toBe(false);
    expect(spec.concurrency.group).not.toContain('${{');
  });
});
